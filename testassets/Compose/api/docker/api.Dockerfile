ARG BASE_IMAGE=ecrcache/busybox:1
FROM ${BASE_IMAGE} AS base
RUN echo base > /base

FROM base AS runtime
ARG GREETING
COPY package.json /app/package.json
RUN echo "greeting=${GREETING}" > /greeting

FROM base AS debug
RUN echo debug > /debug
