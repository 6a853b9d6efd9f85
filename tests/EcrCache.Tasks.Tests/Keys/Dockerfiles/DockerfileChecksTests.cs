using EcrCache.Diagnostics;
using EcrCache.Keys.Dockerfiles;

namespace EcrCache.Tasks.Tests.Keys.Dockerfiles
{
    [TestClass]
    public sealed class DockerfileChecksTests
    {
        private static string? Error(string text, string? target = null)
        {
            try
            {
                DockerfileChecks.Check(text, "/src/Dockerfile", target);
                return null;
            }
            catch (EcrCacheException ex)
            {
                return ex.Diagnostic.Code + "@" + ex.Diagnostic.Line + ":" + ex.Diagnostic.Message;
            }
        }

        [TestMethod]
        [DataRow("FROM node:20 AS deps\nFROM deps AS build\n", "build")]
        [DataRow("FROM node:20 as Deps\n", "deps")]
        [DataRow("FROM node:20\n", null)]
        [DataRow("FROM node:20\nRUN --mount=type=cache,target=/root/.npm npm ci\n", null)]
        [DataRow("FROM node:20\nRUN --mount=type=secret,id=npmrc --mount=type=ssh npm ci\n", null)]
        [DataRow("FROM node:20\nRUN --mount=target=/src,source=. make\n", null)]
        [DataRow("FROM node:20\nRUN --mount=\"type=tmpfs,dst=/tmp\" --network=none make\n", null)]
        [DataRow("FROM node:20\nRUN echo --mount=nothing-to-check-after-the-command\n", null)]
        [DataRow("FROM node:20\nRUN --mount-point-is-not-a-mount-flag make\n", null)]
        public void ValidDockerfiles_Pass(string text, string? target) => Assert.IsNull(Error(text, target));

        [TestMethod]
        public void UnknownTarget_ListsTheStages_AtTheFirstFrom()
        {
            var error = Error("# syntax=docker/dockerfile:1\nFROM node:20 AS deps\nFROM deps AS build\n", "test");
            StringAssert.StartsWith(error, "ECRC1044@2:");
            StringAssert.Contains(error, "deps, build");
            StringAssert.Contains(Error("FROM node:20\n", "build"), "none: no FROM line has AS name");
        }

        [TestMethod]
        [DataRow("FROM a\nRUN --mount=type=cach,target=/x make\n", "type 'cach' is not one of")]
        [DataRow("FROM a\nRUN --mount=type=cache make\n", "a cache mount needs target=/path")]
        [DataRow("FROM a\nRUN --mount=source=. make\n", "a bind mount needs target=/path")]
        [DataRow("FROM a\nRUN --mount make\n", "the flag has no value")]
        public void BadMounts_PointAtTheRunLine(string text, string problem)
        {
            var error = Error(text);
            StringAssert.StartsWith(error, "ECRC1045@2:");
            StringAssert.Contains(error, problem);
        }
    }
}
