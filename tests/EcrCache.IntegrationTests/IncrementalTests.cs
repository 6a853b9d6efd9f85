using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>An unchanged second run is a local hit that does not talk to the registry at all.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class IncrementalTests : IntegrationTest
{
    [TestMethod]
    public void UnchangedInputsAreALocalHitWithoutRegistryRequests()
    {
        if (string.IsNullOrEmpty(Env.RegistryLog) || !File.Exists(Env.RegistryLog))
        {
            Assert.Inconclusive("The open registry's access log (ECRCACHE_TEST_REGISTRY_LOG) is not available.");
        }

        var ws = CreateWorkspace();
        var registryArgs = Workspace.RegistryProvider(Env.Registry);
        var first = ws.Build(registryArgs);
        var reference = first.AssertResult("built");

        Thread.Sleep(500);
        var before = RegistryProbe.CountAccessLogRequests(Env.RegistryLog, ws.Repository);
        Assert.IsTrue(before > 0, "sanity: the miss (HEAD + push) must show in the registry log " + Env.RegistryLog);

        var second = ws.Build(registryArgs);
        Assert.AreEqual(reference, second.AssertResult("hit-local"));
        Thread.Sleep(500);
        var after = RegistryProbe.CountAccessLogRequests(Env.RegistryLog, ws.Repository);
        Assert.AreEqual(before, after, $"a local hit must not call the registry ({after - before} new requests for {ws.Repository})");

        var targetTime = Regex.Match(second.Output, @"EcrCache: \S+ \(hit-local\) in ([0-9.]+) s");
        Log($"incremental run: EnsureCachedImage reported {(targetTime.Success ? targetTime.Groups[1].Value : "?")} s; whole `dotnet build` {second.Command.Elapsed.TotalSeconds:0.00} s (miss was {first.Command.Elapsed.TotalSeconds:0.00} s)");
    }
}
