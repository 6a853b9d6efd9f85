using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// The step targets as hook points, seen from a user's project: targets with AfterTargets/BeforeTargets on
/// ComputeCachedImageKey, ResolveCachedImageStore, PullOrBuildCachedImage and ExportCachedImage, imported through
/// CustomAfterEcrCacheTargets, print what they see; the tests compare it with what the build ended with.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class PipelineTests : IntegrationTest
{
    private const string HookLine = @"HOOK (?<name>[a-z-]+) (?<values>.*)$";

    [TestMethod]
    public void AfterComputeCachedImageKey_SeesTheTagAndTheManifest_BeforeTheStoreIsResolved()
    {
        var ws = CreateWorkspace();
        var build = BuildWithHook(ws, "AfterTargets=\"ComputeCachedImageKey\"", "tag=$(EcrCacheTag);key=$(EcrCacheKey);manifest=$(EcrCacheKeyManifest);image=$(EcrCacheImage)");
        build.AssertResult("built");
        var seen = Hook(build);
        Assert.AreEqual(build.Tag, seen["tag"], "the hook sees the tag the image gets" + build.Describe());
        StringAssert.StartsWith(File.ReadAllText(ws.KeyPath).Trim(), seen["key"]);
        Assert.AreEqual(ws.KeyManifestPath, seen["manifest"]);
        Assert.AreEqual("", seen["image"], "the store is resolved after the hook" + build.Describe());
    }

    [TestMethod]
    public void AfterResolveCachedImageStore_SeesTheImageName_OfTheRegistry()
    {
        var ws = CreateWorkspace();
        var build = BuildWithHook(ws, "AfterTargets=\"ResolveCachedImageStore\"", "image=$(EcrCacheImage);result=$(EcrCacheResult)", Workspace.RegistryProvider(Env.Registry));
        build.AssertResult("built");
        var seen = Hook(build);
        Assert.AreEqual(Env.Registry + "/" + ws.Repository, seen["image"], build.Describe());
        Assert.AreEqual(build.Image, seen["image"]);
        Assert.AreEqual("", seen["result"], "nothing is pulled or built yet" + build.Describe());
    }

    [TestMethod]
    public void BeforePullOrBuildCachedImage_RunsBeforeAnythingIsBuilt_AndCanStopIt()
    {
        var ws = CreateWorkspace();
        // The hook asks the daemon for image:tag: on a miss it is not there yet.
        var body = "image=$(EcrCacheImage);tag=$(EcrCacheTag);result=$(EcrCacheResult);inspect=$(_HookInspect)";
        var exec = "<Exec Command=\"&quot;$(EcrCacheDockerPath)&quot; image inspect $(EcrCacheImage):$(EcrCacheTag) &gt; /dev/null 2&gt;&amp;1\" IgnoreExitCode=\"true\" StandardOutputImportance=\"low\"><Output TaskParameter=\"ExitCode\" PropertyName=\"_HookInspect\" /></Exec>";
        var veto = "<Error Condition=\"'$(VetoBuild)' == 'true'\" Text=\"HOOK vetoed the build of $(EcrCacheImage):$(EcrCacheTag)\" />";

        var vetoed = BuildWithHook(ws, "BeforeTargets=\"PullOrBuildCachedImage\"", body, new[] { "-p:VetoBuild=true" }, exec, veto);
        Assert.AreNotEqual(0, vetoed.ExitCode, vetoed.Describe());
        StringAssert.Contains(vetoed.Output, "HOOK vetoed the build of " + ws.Repository + ":");
        Assert.IsNull(vetoed.Result, "a hook before the step stops it" + vetoed.Describe());
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built" + vetoed.Describe());
        Assert.IsFalse(vetoed.StampExists);

        var build = BuildWithHook(ws, "BeforeTargets=\"PullOrBuildCachedImage\"", body, Array.Empty<string>(), exec, veto);
        build.AssertResult("built");
        var seen = Hook(build);
        Assert.AreEqual(ws.Repository, seen["image"]);
        Assert.AreEqual(build.Tag, seen["tag"]);
        Assert.AreEqual("", seen["result"]);
        Assert.AreNotEqual("0", seen["inspect"], "the image must not exist yet when the hook runs" + build.Describe());
    }

    [TestMethod]
    public void AfterPullOrBuildCachedImage_SeesTheResult_BeforeTheExport()
    {
        var ws = CreateWorkspace();
        var body = "result=$(EcrCacheResult);reference=$(EcrCacheImageReference);envfile=$([System.IO.File]::Exists('$(EcrCacheEnvFile)'))";
        var first = BuildWithHook(ws, "AfterTargets=\"PullOrBuildCachedImage\"", body);
        first.AssertResult("built");
        var seen = Hook(first);
        Assert.AreEqual("built", seen["result"]);
        Assert.AreEqual(first.Reference, seen["reference"]);
        Assert.AreEqual("False", seen["envfile"], "the env file is written by ExportCachedImage, after the hook" + first.Describe());

        var again = BuildWithHook(ws, "AfterTargets=\"PullOrBuildCachedImage\"", body);
        again.AssertResult("hit-local");
        Assert.AreEqual("hit-local", Hook(again)["result"]);
    }

    [TestMethod]
    public void AfterExportCachedImage_SeesTheImageItem_WithItsMetadata()
    {
        var ws = CreateWorkspace();
        var body = "item=@(EcrCacheImage);tag=%(EcrCacheImage.Tag);reference=%(EcrCacheImage.Reference);key=%(EcrCacheImage.Key);result=%(EcrCacheImage.Result);registry=%(EcrCacheImage.Registry);envfile=$([System.IO.File]::Exists('$(EcrCacheEnvFile)'))";
        var build = BuildWithHook(ws, "AfterTargets=\"ExportCachedImage\"", body, Workspace.RegistryProvider(Env.Registry));
        build.AssertResult("built");
        var seen = Hook(build);
        Assert.AreEqual(Env.Registry + "/" + ws.Repository, seen["item"]);
        Assert.AreEqual(build.Tag, seen["tag"]);
        Assert.AreEqual(build.Reference, seen["reference"]);
        Assert.AreEqual(File.ReadAllText(ws.KeyPath).Trim(), seen["key"]);
        Assert.AreEqual("built", seen["result"]);
        Assert.AreEqual(Env.Registry, seen["registry"]);
        Assert.AreEqual("True", seen["envfile"]);

        var local = CreateWorkspace();
        var onLocal = BuildWithHook(local, "AfterTargets=\"ExportCachedImage\"", body);
        onLocal.AssertResult("built");
        Assert.AreEqual("", Hook(onLocal)["registry"], "the local daemon is no registry" + onLocal.Describe());
    }

    [TestMethod]
    public void NoOp_RewritesNoExportedFile_AndCustomBeforeTargetsSetOptions()
    {
        var ws = CreateWorkspace();
        var before = Path.Combine(ws.Root, "before.targets");
        File.WriteAllText(before, "<Project><PropertyGroup><EcrCacheExportEnvVariable>FROM_CUSTOM_BEFORE</EcrCacheExportEnvVariable></PropertyGroup></Project>\n");
        var args = new[] { "-p:CustomBeforeEcrCacheTargets=" + before };
        ws.Build(args).AssertResult("built", exportVariable: "FROM_CUSTOM_BEFORE");

        var files = new[] { ws.EnvFilePath, ws.EnvFilePath + ".ps1", ws.StampPath, ws.KeyPath, ws.KeyManifestPath };
        var times = files.ToDictionary(f => f, File.GetLastWriteTimeUtc);
        Thread.Sleep(1100); // coarse file-system clocks: a rewrite must show
        ws.Build(args).AssertResult("hit-local", exportVariable: "FROM_CUSTOM_BEFORE");
        foreach (var file in files)
        {
            Assert.AreEqual(times[file], File.GetLastWriteTimeUtc(file), file + " was rewritten by a no-op");
        }
    }

    [TestMethod]
    public void MultiTargetingPackageReference_EnsuresOnceFromTheOuterBuild()
    {
        var ws = CreateWorkspace("PackageReferenceConsumer");
        var project = File.ReadAllText(ws.ProjectFile).Replace("<TargetFramework>net10.0</TargetFramework>", "<TargetFrameworks>net10.0</TargetFrameworks>", StringComparison.Ordinal);
        File.WriteAllText(ws.ProjectFile, project);
        var version = "-p:EcrCacheSdkVersion=" + Env.SdkVersion;

        // The outer build has the targets (buildMultiTargeting/), so the image can be ensured without a framework.
        var ensure = ws.Build(version);
        ensure.AssertResult("built");

        // A plain build with EcrCacheEnsureOnBuild ensures it once, from the outer build, not once per framework.
        var plain = ws.Build(new[] { version, "-p:EcrCacheEnsureOnBuild=true" }, target: null);
        plain.AssertSucceeded();
        Assert.AreEqual(1, Regex.Matches(plain.Output, @"EcrCache: \S+ \((hit-local|built)\) in ").Count, "exactly one ensure" + plain.Describe());
        Assert.AreEqual("hit-local", plain.Result, plain.Describe());
    }

    private static BuildResult BuildWithHook(Workspace ws, string when, string values, IEnumerable<string>? args = null, params string[] tasks)
    {
        var hooks = Path.Combine(ws.Root, "hooks-" + Guid.NewGuid().ToString("N")[..8] + ".targets");
        File.WriteAllText(hooks, $"""
            <Project>
              <Target Name="UserHook" {when}>
                {string.Join("\n    ", tasks)}
                <Message Importance="high" Text="HOOK seen {values}" />
              </Target>
            </Project>
            """);
        return ws.Build((args ?? Array.Empty<string>()).Append("-p:CustomAfterEcrCacheTargets=" + hooks));
    }

    /// <summary>The name=value pairs the hook printed (values may be empty).</summary>
    private static Dictionary<string, string> Hook(BuildResult build)
    {
        var line = build.Output.Split('\n').Select(l => Regex.Match(l.TrimEnd('\r'), HookLine)).FirstOrDefault(m => m.Success && m.Groups["name"].Value == "seen");
        Assert.IsNotNull(line, "the hook did not run" + build.Describe());
        return line!.Groups["values"].Value.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1].Trim() : "", StringComparer.Ordinal);
    }
}
