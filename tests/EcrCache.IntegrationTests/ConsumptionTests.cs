using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>The three ways to consume the SDK, and the targets and switches around EnsureCachedImage.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class ConsumptionTests : IntegrationTest
{
    [TestMethod]
    public void StandaloneProjectPlainBuildEnsuresTheImage()
    {
        var ws = CreateWorkspace();
        var build = ws.Build(Array.Empty<string>(), target: null);
        var reference = build.AssertResult("built");
        Assert.IsTrue(DockerHelper.ImageExists(reference));
        Assert.AreEqual(reference, ws.Build(Array.Empty<string>(), target: null).AssertResult("hit-local"));
    }

    [TestMethod]
    public void SdkElementInAClassLibraryEnsuresOnlyWhenAskedTo()
    {
        var ws = CreateWorkspace("SdkInProject");
        var spy = FakeDocker();

        // Plain build, EcrCacheEnsureOnBuild not set: compiles, and never runs docker.
        var plain = ws.Build(new[] { "-p:EcrCacheDockerPath=" + spy.Script }, target: null);
        plain.AssertSucceeded();
        Assert.IsTrue(File.Exists(Path.Combine(ws.ProjectDirectory, "bin", "Debug", "net10.0", "SdkInProject.dll")), "the library should be built" + plain.Describe());
        Assert.IsNull(plain.Result, "a plain build must not ensure the image" + plain.Describe());
        Assert.IsFalse(File.Exists(spy.Log), "a plain build must not run docker: " + (File.Exists(spy.Log) ? File.ReadAllText(spy.Log) : ""));
        Assert.IsFalse(plain.StampExists);
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count);

        // EcrCacheEnsureOnBuild=true: Build, then the image.
        var onBuild = ws.Build(new[] { "-p:EcrCacheEnsureOnBuild=true" }, target: null);
        var reference = onBuild.AssertResult("built");
        Assert.IsTrue(DockerHelper.ImageExists(reference));
        Assert.AreEqual("consumer=sdk-in-project", DockerHelper.Cat(reference, "/consumer"));
        var outputLines = onBuild.Output.Split('\n');
        var dllLine = Array.FindIndex(outputLines, l => l.Contains("SdkInProject.dll", StringComparison.Ordinal) && l.Contains("->", StringComparison.Ordinal));
        var summaryLine = Array.FindIndex(outputLines, l => l.Contains("EcrCache: " + reference, StringComparison.Ordinal));
        Assert.IsTrue(dllLine >= 0 && summaryLine > dllLine, "the image should be ensured after Build produced the library" + onBuild.Describe());

        // The explicit target, in a fresh repository: built.
        ws.Repository = NewRepository("sdk-element-target");
        var explicitTarget = ws.Build();
        explicitTarget.AssertResult("built");
        Assert.AreEqual(ws.Repository, explicitTarget.Image);
    }

    [TestMethod]
    public void PackageReferenceInAClassLibraryProvidesTheTarget()
    {
        var ws = CreateWorkspace("PackageReferenceConsumer");
        var build = ws.Build("-p:EcrCacheSdkVersion=" + Env.SdkVersion);
        var reference = build.AssertResult("built");
        Assert.AreEqual("consumer=package-reference", DockerHelper.Cat(reference, "/consumer"));
        var assets = File.ReadAllText(Path.Combine(ws.ProjectDirectory, "obj", "project.assets.json"));
        Assert.IsTrue(assets.Contains("\"EcrCache.Sdk/" + Env.SdkVersion + "\"", StringComparison.Ordinal), "the packed version should have been restored");
    }

    [TestMethod]
    public void DesignTimeBuildAndDisabledDoNothing()
    {
        var ws = CreateWorkspace();
        var spy = FakeDocker();

        var designTime = ws.Build("-p:DesignTimeBuild=true", "-p:EcrCacheDockerPath=" + spy.Script);
        designTime.AssertSucceeded();
        Assert.IsNull(designTime.Result, designTime.Describe());
        Assert.IsFalse(designTime.StampExists, "a design-time build must not ensure anything");
        Assert.IsFalse(File.Exists(spy.Log), "a design-time build must not run docker");

        var disabled = ws.Build("-p:EcrCacheEnabled=false", "-p:EcrCacheDockerPath=" + spy.Script);
        disabled.AssertSucceeded();
        Assert.IsNull(disabled.Result, disabled.Describe());
        Assert.IsTrue(disabled.Output.Contains("EcrCache: disabled", StringComparison.Ordinal), "EcrCacheEnabled=false should say so" + disabled.Describe());
        Assert.IsFalse(disabled.StampExists);
        Assert.IsFalse(File.Exists(spy.Log), "EcrCacheEnabled=false must not run docker");
        Assert.IsFalse(Directory.Exists(ws.IntermediateDirectory) && Directory.EnumerateFiles(ws.IntermediateDirectory).Any(), "nothing may be written to obj/ecrcache");
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count);
    }

    [TestMethod]
    public void ComputeKeyWritesTheKeyWithoutBuildingAndCleanRemovesTheFolder()
    {
        var ws = CreateWorkspace();
        var key = ws.Build(Array.Empty<string>(), target: "ComputeCachedImageKey");
        key.AssertSucceeded();
        Assert.IsTrue(File.Exists(ws.KeyPath), "key.txt should be written" + key.Describe());
        Assert.IsTrue(File.Exists(ws.KeyManifestPath), "key-manifest.json should be written");
        Assert.IsFalse(key.StampExists, "computing the key must not ensure the image");
        Assert.IsFalse(key.Output.Contains("Building with", StringComparison.Ordinal), key.Describe());
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "computing the key must not build");
        var match = Regex.Match(key.Output, @"EcrCache key: ([0-9a-f]+) \(tag ([0-9a-f]+)\)");
        Assert.IsTrue(match.Success, "expected the `EcrCache key: <hash> (tag <tag>)` line" + key.Describe());
        Assert.AreEqual(match.Groups[1].Value, File.ReadAllText(ws.KeyPath).Trim());

        var ensure = ws.Build();
        ensure.AssertResult("built");
        Assert.AreEqual(match.Groups[2].Value, ensure.Tag, "EnsureCachedImage should use the key ComputeCachedImageKey announced");

        var clean = ws.Build(Array.Empty<string>(), target: "Clean");
        clean.AssertSucceeded();
        Assert.IsFalse(Directory.Exists(ws.IntermediateDirectory), "Clean should remove obj/ecrcache" + clean.Describe());
        Assert.IsTrue(DockerHelper.ImageExists(ensure.Reference!), "Clean removes files, never images");
    }

    /// <summary>A `docker` stand-in that records any call and fails, for proving docker is not run.</summary>
    private (string Script, string Log) FakeDocker()
    {
        var dir = Path.Combine(TestRoot, "fake-docker");
        Directory.CreateDirectory(dir);
        var log = Path.Combine(dir, "calls.txt");
        var script = Path.Combine(dir, "docker");
        File.WriteAllText(script, $"#!/bin/sh\necho \"$@\" >> '{log}'\nexit 1\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return (script, log);
    }
}
