using System.Collections.Generic;
using System.Linq;
using EcrCache.Diagnostics;
using EcrCache.Keys.BaseImages;
using EcrCache.Keys.Dockerfiles;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class DockerfileParserTests
    {
        private static IReadOnlyList<FromInstruction> Parse(string text, Dictionary<string, string?>? args = null, string? target = "linux/amd64", string? build = null) =>
            DockerfileParser.ParseFromInstructions(text, args, target, build);

        private static string[] External(string text, Dictionary<string, string?>? args = null) =>
            Parse(text, args).Where(f => f.IsExternalImage).Select(f => f.Image).ToArray();

        [TestMethod]
        public void PlainFromLinesAreImages()
        {
            var froms = Parse("FROM node:20\nRUN npm ci\nfrom  alpine:3.19\n");
            CollectionAssert.AreEqual(new[] { "node:20", "alpine:3.19" }, froms.Select(f => f.Image).ToArray());
            Assert.AreEqual(1, froms[0].Line);
            Assert.AreEqual(3, froms[1].Line);
        }

        [TestMethod]
        public void StagesAreNotImagesAndScratchIsNeither()
        {
            var froms = Parse("FROM golang:1.22 AS Build\nRUN go build\nFROM build AS test\nFROM scratch\nCOPY --from=build /app /app\nFROM test\n");
            Assert.AreEqual("build", froms[0].StageName, "stage names are case-insensitive (kept lower case)");
            Assert.IsTrue(froms[1].IsStageReference);
            Assert.IsTrue(froms[2].IsScratch);
            Assert.IsFalse(froms[2].IsExternalImage);
            Assert.IsTrue(froms[3].IsStageReference);
            CollectionAssert.AreEqual(new[] { "golang:1.22" }, External("FROM golang:1.22 AS Build\nFROM build AS test\nFROM scratch\nFROM test\n"));
        }

        [TestMethod]
        public void AStageNameUsedBeforeItIsDefinedIsAnImage()
        {
            // Docker resolves FROM build as an image when no earlier stage is called build.
            CollectionAssert.AreEqual(new[] { "build", "alpine" }, External("FROM build\nFROM alpine AS build\n"));
        }

        [TestMethod]
        public void GlobalArgDefaultsAndBuildArgOverrides()
        {
            const string text = "ARG BASE=node\nARG VERSION=20\nFROM ${BASE}:$VERSION\nARG VERSION=99\nFROM $BASE:${VERSION}-slim\n";
            CollectionAssert.AreEqual(new[] { "node:20", "node:20-slim" }, External(text), "an ARG after the first FROM does not apply to FROM lines");
            CollectionAssert.AreEqual(new[] { "node:22", "node:22-slim" }, External(text, new Dictionary<string, string?> { ["VERSION"] = "22" }));
        }

        [TestMethod]
        public void AnUnsetBuildArgKeepsTheGlobalArgDefault_AnEmptyOneOverridesIt()
        {
            // docker keeps the ARG default for '--build-arg NAME' with NAME unset; '' replaces it.
            const string text = "ARG NODE_VERSION=20\nFROM node:${NODE_VERSION}\n";
            CollectionAssert.AreEqual(new[] { "node:20" }, External(text, new Dictionary<string, string?> { ["NODE_VERSION"] = null }));
            CollectionAssert.AreEqual(new[] { "node:lts" }, External("ARG TAG\nFROM node:${TAG-lts}\n", new Dictionary<string, string?> { ["TAG"] = null }), "declared without default and unset: unset");
            CollectionAssert.AreEqual(new[] { "node:x" }, External("ARG TAG=1\nFROM node:${TAG-y}x\n", new Dictionary<string, string?> { ["TAG"] = "" }), "an empty value is set");
        }

        [TestMethod]
        public void BuildArgsThatAreNotDeclaredDoNotSubstitute()
        {
            CollectionAssert.AreEqual(new[] { "node:20" }, External("ARG TAG=20\nFROM node:${TAG}${SUFFIX}\n", new Dictionary<string, string?> { ["SUFFIX"] = "-alpine" }));
        }

        [TestMethod]
        public void DefaultsAndAlternatives()
        {
            CollectionAssert.AreEqual(new[] { "node:lts" }, External("ARG TAG\nFROM node:${TAG:-lts}\n"));
            CollectionAssert.AreEqual(new[] { "node:21" }, External("ARG TAG\nFROM node:${TAG:-lts}\n", new Dictionary<string, string?> { ["TAG"] = "21" }));
            CollectionAssert.AreEqual(new[] { "node:lts" }, External("ARG TAG=\nFROM node:${TAG:-lts}\n"), ":- also replaces an empty value");
            CollectionAssert.AreEqual(new[] { "node:" + "x" }, External("ARG TAG=\nFROM node:${TAG-y}x\n"), "- only replaces an unset value");
            CollectionAssert.AreEqual(new[] { "node:20-slim" }, External("ARG SLIM=1\nFROM node:20${SLIM:+-slim}\n"));
            CollectionAssert.AreEqual(new[] { "node:20" }, External("ARG SLIM\nFROM node:20${SLIM:+-slim}\n"));
            CollectionAssert.AreEqual(new[] { "node:20" }, External("ARG A=20\nARG B=$A\nFROM node:${B}\n"), "a default can use an earlier ARG");
        }

        [TestMethod]
        public void ContinuationsCommentsAndMultipleArgsOnOneLine()
        {
            const string text = "# a comment\nARG REG=registry.example.com \\\n    IMG=team/app\nFROM \\\n  # comment inside\n\n  ${REG}/${IMG}:1 \\\n  AS base\n";
            var froms = Parse(text);
            Assert.AreEqual(1, froms.Count);
            Assert.AreEqual("registry.example.com/team/app:1", froms[0].Image);
            Assert.AreEqual("base", froms[0].StageName);
            Assert.AreEqual(4, froms[0].Line);
        }

        [TestMethod]
        public void EscapeDirectiveChangesTheContinuationCharacter()
        {
            var froms = Parse("# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\n  AS base\nRUN dir c:\\\nFROM base\n");
            Assert.AreEqual("mcr.microsoft.com/windows/servercore:ltsc2022", froms[0].Image);
            Assert.AreEqual("base", froms[0].StageName);
            Assert.IsTrue(froms[1].IsStageReference, "a trailing backslash is not a continuation under escape=`");
        }

        [TestMethod]
        public void DirectivesStopAfterTheFirstComment()
        {
            // '# escape=`' after a plain comment is just a comment, so the backslash still continues.
            var froms = Parse("# hello\n# escape=`\nFROM alpine \\\n AS a\n");
            Assert.AreEqual("a", froms[0].StageName);
        }

        [TestMethod]
        public void PlatformFlagAndAutomaticPlatformArgs()
        {
            var froms = Parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM --platform=linux/arm64 alpine\nFROM node:20-${TARGETARCH}\n", target: "linux/arm64", build: "linux/amd64");
            Assert.AreEqual("linux/amd64", froms[0].Platform);
            Assert.AreEqual("linux/arm64", froms[1].Platform);
            Assert.IsNull(froms[2].Platform);
            Assert.AreEqual("node:20-arm64", froms[2].Image);
        }

        [TestMethod]
        public void DigestPinsAreKept()
        {
            const string digest = "sha256:1c3227bd1a732f5f3dbbf36201bb83b0ae2fbdd52054330a86b7fda6f7382500";
            CollectionAssert.AreEqual(new[] { "node:20@" + digest }, External("FROM node:20@" + digest + "\n"));
        }

        [TestMethod]
        public void CrLfAndBomAreHandled()
        {
            CollectionAssert.AreEqual(new[] { "alpine" }, External("\uFEFFARG X=alpine\r\nFROM $X\r\n"));
        }

        [TestMethod]
        public void AnEmptyImageAfterSubstitutionIsACodedError()
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => Parse("ARG BASE\nFROM ${BASE}\n"));
            Assert.AreEqual("ECRC1110", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "Line 2");
        }

        [TestMethod]
        public void MalformedFromLinesAreCodedErrors()
        {
            Assert.AreEqual("ECRC1110", Assert.ThrowsExactly<EcrCacheException>(() => Parse("FROM\n")).Diagnostic.Code);
            Assert.AreEqual("ECRC1110", Assert.ThrowsExactly<EcrCacheException>(() => Parse("FROM a b c d\n")).Diagnostic.Code);
            Assert.AreEqual("ECRC1110", Assert.ThrowsExactly<EcrCacheException>(() => Parse("FROM ${A\n")).Diagnostic.Code);
            Assert.AreEqual("ECRC1110", Assert.ThrowsExactly<EcrCacheException>(() => Parse("ARG A\nFROM x${A:?no}\n")).Diagnostic.Code);
        }

        [TestMethod]
        public void ErrorsPointAtTheDockerfileLineAndColumnOfTheInstruction()
        {
            const string file = "/src/app/Dockerfile";
            var empty = Assert.ThrowsExactly<EcrCacheException>(() => DockerfileParser.ParseFromInstructions("# syntax=docker/dockerfile:1\nARG BASE\n\n  FROM ${BASE} AS build\n", file: file)).Diagnostic;
            Assert.AreEqual((file, 4, 3), (empty.File, empty.Line, empty.Column));
            StringAssert.Contains(empty.Message, "Line 4", "the message keeps its own line wording");

            var continued = Assert.ThrowsExactly<EcrCacheException>(() => DockerfileParser.ParseFromInstructions("FROM alpine\nFROM \\\n  a b c d\n", file: file)).Diagnostic;
            Assert.AreEqual((file, 2, 1), (continued.File, continued.Line, continued.Column), "a continued instruction is where it starts");

            var arg = Assert.ThrowsExactly<EcrCacheException>(() => DockerfileParser.ParseFromInstructions("ARG A=${B\nFROM x\n", file: file)).Diagnostic;
            Assert.AreEqual((file, 1, 1), (arg.File, arg.Line, arg.Column), "a bad global ARG points at the ARG");

            var escape = Assert.ThrowsExactly<EcrCacheException>(() => DockerfileParser.ParseFromInstructions("# escape=x\nFROM x\n", file: file)).Diagnostic;
            Assert.AreEqual((file, 1, 1), (escape.File, escape.Line, escape.Column));

            var froms = DockerfileParser.ParseFromInstructions("FROM a\n\tFROM b\n", file: file);
            Assert.AreEqual((file, 2, 2), (froms[1].File, froms[1].Line, froms[1].Column));
            var located = froms[1].Locate(Diagnostic.Create(DiagnosticIds.BaseImageBadReference, "b", 2));
            Assert.AreEqual((file, 2, 2), (located.File, located.Line, located.Column));
        }

        [TestMethod]
        public void InlineDockerfileErrorsPointAtTheProjectFileAsAWhole()
        {
            // The lines of inline text are not the project file's: no line rather than a wrong one.
            var inline = Assert.ThrowsExactly<EcrCacheException>(() => Parse("ARG BASE\nFROM ${BASE}\n")).Diagnostic;
            Assert.AreEqual((null, 0, 0), (inline.File, inline.Line, inline.Column));
            StringAssert.Contains(inline.Message, "Line 2");
        }

        [TestMethod]
        public void EscapedDollarIsLiteral()
        {
            Assert.AreEqual("a$b", DockerfileParser.Substitute("a\\$b", new Dictionary<string, string> { ["b"] = "X" }));
        }
    }

    [TestClass]
    public sealed class ImageReferenceTests
    {
        [TestMethod]
        [DataRow("node:20", "docker.io", "library/node", "20", "docker.io/library/node:20")]
        [DataRow("node", "docker.io", "library/node", "latest", "docker.io/library/node:latest")]
        [DataRow("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", "docker.io/bitnami/redis:7.2")]
        [DataRow("docker.io/node:20", "docker.io", "library/node", "20", "docker.io/library/node:20")]
        [DataRow("index.docker.io/library/node:20", "docker.io", "library/node", "20", "docker.io/library/node:20")]
        [DataRow("registry-1.docker.io/library/node:20", "docker.io", "library/node", "20", "docker.io/library/node:20")]
        [DataRow("localhost/app:1", "localhost", "app", "1", "localhost/app:1")]
        [DataRow("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", "latest", "127.0.0.1:5000/team/app:latest")]
        [DataRow("ghcr.io/owner/img:v1.2", "ghcr.io", "owner/img", "v1.2", "ghcr.io/owner/img:v1.2")]
        [DataRow("registry:5000/app", "registry:5000", "app", "latest", "registry:5000/app:latest")]
        public void NormalisesLikeDocker(string text, string domain, string path, string tag, string canonical)
        {
            Assert.IsTrue(ImageReference.TryParse(text, out var r));
            Assert.AreEqual(domain, r!.Domain);
            Assert.AreEqual(path, r.Path);
            Assert.AreEqual(tag, r.Tag);
            Assert.AreEqual(canonical, r.ToString());
        }

        [TestMethod]
        public void DockerHubIsAskedAtRegistry1()
        {
            Assert.IsTrue(ImageReference.TryParse("node:20", out var hub));
            Assert.AreEqual("registry-1.docker.io", hub!.ApiHost);
            Assert.IsTrue(ImageReference.TryParse("ghcr.io/a/b", out var ghcr));
            Assert.AreEqual("ghcr.io", ghcr!.ApiHost);
        }

        [TestMethod]
        public void DigestOnlyAndTagPlusDigest()
        {
            const string d = "sha256:1c3227bd1a732f5f3dbbf36201bb83b0ae2fbdd52054330a86b7fda6f7382500";
            Assert.IsTrue(ImageReference.TryParse("alpine@" + d, out var a));
            Assert.IsNull(a!.Tag);
            Assert.AreEqual(d, a.Digest);
            Assert.AreEqual(d, a.Reference);
            Assert.IsTrue(ImageReference.TryParse("alpine:3@" + d, out var b));
            Assert.AreEqual("3", b!.Tag);
            Assert.AreEqual("docker.io/library/alpine:3@" + d, b.ToString());
        }

        [TestMethod]
        [DataRow("")]
        [DataRow("Node:20")]
        [DataRow("node:")]
        [DataRow("node@sha256:short")]
        [DataRow("a b")]
        public void RejectsInvalidReferences(string text) => Assert.IsFalse(ImageReference.TryParse(text, out _));
    }

    [TestClass]
    public sealed class PlatformPickTests
    {
        private const string Index = @"{""schemaVersion"":2,""manifests"":[
 {""digest"":""sha256:amd"",""platform"":{""os"":""linux"",""architecture"":""amd64""}},
 {""digest"":""sha256:armv6"",""platform"":{""os"":""linux"",""architecture"":""arm"",""variant"":""v6""}},
 {""digest"":""sha256:armv7"",""platform"":{""os"":""linux"",""architecture"":""arm"",""variant"":""v7""}},
 {""digest"":""sha256:arm64"",""platform"":{""os"":""linux"",""architecture"":""arm64"",""variant"":""v8""}},
 {""digest"":""sha256:att"",""platform"":{""os"":""unknown"",""architecture"":""unknown""}}]}";

        [TestMethod]
        [DataRow("linux/amd64", "sha256:amd")]
        [DataRow("linux/arm64", "sha256:arm64")]
        [DataRow("linux/arm64/v8", "sha256:arm64")]
        [DataRow("linux/arm/v7", "sha256:armv7")]
        [DataRow("linux/arm/v6", "sha256:armv6")]
        [DataRow("linux/s390x", null)]
        public void PicksThePlatformsManifest(string platform, string? expected) =>
            Assert.AreEqual(expected, BaseImageResolver.PickPlatform(System.Text.Encoding.UTF8.GetBytes(Index), platform));
    }
}
