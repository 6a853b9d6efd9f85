using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// EcrCacheProvider=ecr through `dotnet build` of the packed SDK: the ECR API is the moto_server of
/// start-services.sh (AWS_ENDPOINT_URL_ECR), the data plane is the open docker-registry (EcrCacheRegistry). What ECR
/// holds afterwards is read back from moto with boto3 in a python3 child process (black box: nothing of the task
/// library is referenced, not even its ECR client).
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
[TestCategory(Categories.Moto)]
public sealed class EcrProviderTests : IntegrationTest
{
    private const string Region = "ap-southeast-2";

    /// <summary>The region the environment names (AWS_REGION); EcrCacheRegion must win over it on every call.</summary>
    private const string EnvironmentRegion = "us-west-2";

    private const string DefaultEnvironmentRegion = "eu-central-1";

    private const string JsonMarker = "ECRC-IT-JSON ";

    /// <summary>Reads the repository, its tags and lifecycle policy (in one region), where else it exists, and the token moto hands out.</summary>
    private const string ReadBackScript = """
        import json, sys
        import boto3
        from botocore.config import Config

        endpoint, region, repository, others = sys.argv[1], sys.argv[2], sys.argv[3], [r for r in sys.argv[4].split(',') if r]
        config = Config(connect_timeout=10, read_timeout=30, retries={'max_attempts': 3, 'mode': 'standard'})

        def ecr(name):
            return boto3.client('ecr', region_name=name, endpoint_url=endpoint, aws_access_key_id='testing',
                                aws_secret_access_key='testing', config=config)

        def describe(client):
            try:
                return client.describe_repositories(repositoryNames=[repository])['repositories'][0]
            except client.exceptions.RepositoryNotFoundException:
                return None

        client = ecr(region)
        out = {'repository': None, 'tags': None, 'lifecyclePolicy': None}
        repo = describe(client)
        if repo is not None:
            out['repository'] = {'arn': repo['repositoryArn'], 'uri': repo['repositoryUri'], 'registryId': repo['registryId']}
            out['tags'] = {t['Key']: t['Value'] for t in client.list_tags_for_resource(resourceArn=repo['repositoryArn'])['tags']}
            try:
                out['lifecyclePolicy'] = client.get_lifecycle_policy(repositoryName=repository)['lifecyclePolicyText']
            except client.exceptions.LifecyclePolicyNotFoundException:
                pass
        out['foundIn'] = [r for r in others if describe(ecr(r)) is not None]
        out['token'] = client.get_authorization_token()['authorizationData'][0]['authorizationToken']
        print('ECRC-IT-JSON ' + json.dumps(out), flush=True)
        """;

    private const string DeleteScript = """
        import sys
        import boto3
        endpoint, repository, regions = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
        for region in regions:
            client = boto3.client('ecr', region_name=region, endpoint_url=endpoint, aws_access_key_id='testing', aws_secret_access_key='testing')
            try:
                client.delete_repository(repositoryName=repository, force=True)
            except client.exceptions.RepositoryNotFoundException:
                pass
        """;

    [TestMethod]
    public void MissCreatesTaggedRepositoryWithExpiryAndPushes_ThenPullsAfterRmi_AndTheTokenLeaksNowhere()
    {
        var moto = Boto3.RequireMoto(Env.MotoEndpoint);
        var ws = CreateWorkspace("EcrSample", NewRepository("ecr"));
        ForgetRepositoryInMotoAfterwards(moto, ws.Repository);
        var tmp = Directory.CreateDirectory(Path.Combine(ws.Root, "tmp")).FullName;
        var environment = EcrEnvironment(moto, tmp);
        var ecrArgs = EcrArguments();

        // The user's own docker config (another registry's login) is read, never written: the ECR login goes to a
        // private copy.
        ws.WriteDockerAuth("registry.example.invalid", "someone", "not-the-ecr-token");
        var userConfigPath = Path.Combine(ws.DockerConfigDirectory, "config.json");
        var userConfig = File.ReadAllBytes(userConfigPath);

        // 1. Miss: the repository is created (in EcrCacheRegion, with the EcrTag tags) and gets the expiry policy;
        //    the image is built and pushed to the data-plane host EcrCacheRegistry names.
        var firstBinlog = Path.Combine(ws.Root, "first.binlog");
        var first = ws.Build(ecrArgs.Append("-bl:" + firstBinlog), verbosity: "diag", environment: environment);
        var reference = first.AssertResult("built");
        Assert.AreEqual(Env.Registry + "/" + ws.Repository, first.Image, "EcrCacheRegistry overrides the repository's own host" + first.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, first.Tag), "the tag was not pushed" + first.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "latest"), "latest was not pushed" + first.Describe());
        Assert.IsTrue(DockerHelper.ImageExists(reference), "built but not in the daemon" + first.Describe());
        Assert.AreEqual(first.Image, first.EnvFile!["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE"]);
        Assert.IsTrue(first.Output.Contains("Created ECR repository", StringComparison.Ordinal), "the repository should have been created by this build" + first.Describe());
        Assert.IsFalse(Regex.IsMatch(first.Output, @"warning ECRC\d+"), "no EcrCache warning expected (ECRC1508 would mean no expiry policy)" + first.Describe());
        AssertEveryEcrCallUsed(Region, first, "DescribeRepositories", "CreateRepository", "GetLifecyclePolicy", "PutLifecyclePolicy", "GetAuthorizationToken");
        var privateConfig = AssertPrivateDockerConfigRemoved(first, tmp);
        CollectionAssert.AreEqual(userConfig, File.ReadAllBytes(userConfigPath), "the user's docker config.json was modified");

        var state = ReadBack(moto, ws.Repository);
        Assert.IsNotNull(state.Repository, $"the repository {ws.Repository} does not exist in moto in {Region}" + first.Describe());
        CollectionAssert.AreEquivalent(Array.Empty<string>(), state.FoundIn, $"the repository must exist only in EcrCacheRegion ({Region}), not in AWS_REGION's, AWS_DEFAULT_REGION's or the default region");
        CollectionAssert.AreEquivalent(new Dictionary<string, string> { ["team"] = "platform" }, state.Tags, "the EcrTag items are the repository's resource tags: " + Show(state.Tags));
        AssertLifecyclePolicy(state.LifecyclePolicy, days: 7);

        // What moto hands out as the login: base64("AWS:" + password). Neither half may be anywhere.
        var token = state.Token;
        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(token));
        StringAssert.StartsWith(decoded, "AWS:", "sanity: an ECR authorization token is base64(AWS:password)");
        var password = decoded.Substring("AWS:".Length);
        Assert.IsTrue(password.Length >= 8, "sanity: the password of the token is long enough to search for: " + password.Length);
        var secrets = new[] { ("the authorization token", token), ("the token's password", password) };
        AssertNoSecret(secrets, "first build", first, firstBinlog, ws, reference);

        // 2. Another machine: the image is not local. One HEAD finds it, docker pull (logged in the same way) brings it
        //    back. The repository exists now: it is tagged (TagResource), its policy is left alone.
        DockerHelper.RemoveImages(new[] { reference, first.Image + ":latest" });
        Assert.IsFalse(DockerHelper.ImageExists(reference), "docker rmi did not remove " + reference);
        var secondBinlog = Path.Combine(ws.Root, "second.binlog");
        var second = ws.Build(ecrArgs.Append("-p:EcrSampleRunTag=second").Append("-bl:" + secondBinlog), verbosity: "diag", environment: environment);
        Assert.AreEqual(reference, second.AssertResult("hit-pulled"));
        Assert.IsTrue(DockerHelper.ImageExists(reference), "hit-pulled but the image is not in the daemon" + second.Describe());
        Assert.IsFalse(second.Output.Contains("Created ECR repository", StringComparison.Ordinal), "the repository existed already" + second.Describe());
        Assert.IsFalse(Regex.IsMatch(second.Output, @"warning ECRC\d+"), "no EcrCache warning expected" + second.Describe());
        AssertEveryEcrCallUsed(Region, second, "DescribeRepositories", "TagResource", "GetLifecyclePolicy", "GetAuthorizationToken");
        Assert.IsFalse(EcrOperations(second).Any(c => c.Operation is "CreateRepository" or "PutLifecyclePolicy"), "an existing repository with the right policy is neither created nor its policy rewritten" + second.Describe());
        AssertPrivateDockerConfigRemoved(second, tmp);
        CollectionAssert.AreEqual(userConfig, File.ReadAllBytes(userConfigPath), "the user's docker config.json was modified");

        var after = ReadBack(moto, ws.Repository);
        Assert.AreEqual(state.Repository!.Arn, after.Repository?.Arn, "the same repository");
        CollectionAssert.AreEquivalent(new Dictionary<string, string> { ["team"] = "platform", ["run"] = "second" }, after.Tags, "the EcrTag items are applied to an existing repository (added, never removed): " + Show(after.Tags));
        Assert.AreEqual(state.LifecyclePolicy, after.LifecyclePolicy, "an unchanged lifecycle policy is not rewritten");
        Assert.AreEqual(token, after.Token, "sanity: moto's token is deterministic, so the second build used the same one");
        AssertNoSecret(secrets, "second build", second, secondBinlog, ws, reference);
        Log("private DOCKER_CONFIG of the first build (removed): " + privateConfig);
    }

    [TestMethod]
    public void NoAwsCredentialsFailsWithECRC1501AndCreatesNothing()
    {
        var moto = Boto3.RequireMoto(Env.MotoEndpoint);
        var ws = CreateWorkspace("EcrSample", NewRepository("ecr-nocreds"));
        ForgetRepositoryInMotoAfterwards(moto, ws.Repository);
        var tmp = Directory.CreateDirectory(Path.Combine(ws.Root, "tmp")).FullName;
        var home = Directory.CreateDirectory(Path.Combine(ws.Root, "empty-home")).FullName;

        // No AWS_* at all (no keys, profile, web identity, container or instance role), an empty HOME (no ~/.aws) and
        // IMDS off. The endpoint still points at moto, so a credential found by mistake could never reach real AWS.
        var environment = EcrEnvironment(moto, tmp, withCredentials: false);
        environment["HOME"] = home;
        var build = ws.Build(EcrArguments().Append("-bl:" + Path.Combine(ws.Root, "nocreds.binlog")), verbosity: "diag", environment: environment);

        build.AssertFailedWith("ECRC1501");
        Assert.IsNull(build.Result, "no EcrCache summary line for a failed build" + build.Describe());
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built without credentials" + build.Describe());
        Assert.AreNotEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "latest"), "nothing may be pushed without credentials");
        Assert.IsFalse(EcrOperations(build).Any(c => c.Status != "failed"), "no ECR call may be answered without credentials" + build.Describe());
        Assert.IsNull(ReadBack(moto, ws.Repository).Repository, "no repository may be created without credentials");
        Assert.IsFalse(Directory.EnumerateFileSystemEntries(tmp, "ecrcache-docker-*").Any(), "no private docker config without a login");
        Assert.IsTrue(build.Command.Elapsed < TimeSpan.FromMinutes(2), $"absent credentials should fail fast, not wait for instance metadata ({build.Command.Elapsed.TotalSeconds:0} s)" + build.Describe());
    }

    [TestMethod]
    public void PushFalse_CreatesNoRepository_WritesNoLifecyclePolicy_AndLeavesAnExistingPolicyAlone()
    {
        var moto = Boto3.RequireMoto(Env.MotoEndpoint);
        var ws = CreateWorkspace("EcrSample", NewRepository("ecr-readonly"));
        ForgetRepositoryInMotoAfterwards(moto, ws.Repository);
        var tmp = Directory.CreateDirectory(Path.Combine(ws.Root, "tmp")).FullName;
        var environment = EcrEnvironment(moto, tmp);

        // 1. A pull-request run, repository missing: built and used, nothing created, written or pushed.
        var pr = ws.Build(EcrArguments().Append("-p:EcrCachePush=false"), verbosity: "diag", environment: environment);
        var reference = pr.AssertResult("built-not-pushed");
        Assert.IsTrue(DockerHelper.ImageExists(reference), pr.Describe());
        Assert.IsNull(ReadBack(moto, ws.Repository).Repository, "EcrCachePush=false must not create the repository" + pr.Describe());
        Assert.IsFalse(EcrOperations(pr).Any(c => c.Operation is "CreateRepository" or "PutLifecyclePolicy" or "GetLifecyclePolicy" or "TagResource" or "SetRepositoryPolicy"), "no control-plane write (nor a policy read) in a read-only run" + pr.Describe());
        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, pr.Tag), pr.Describe());
        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "latest"), pr.Describe());

        // 2. A trusted run creates it with a 3-day policy; a read-only miss with the default 7 days leaves it at 3.
        ws.Build(EcrArguments().Append("-p:EcrCacheMaxAgeDays=3"), verbosity: "diag", environment: environment).AssertResult("built");
        var policy = ReadBack(moto, ws.Repository).LifecyclePolicy;
        AssertLifecyclePolicy(policy, days: 3);
        var second = ws.Build(EcrArguments().Append("-p:EcrCachePush=false").Append("-p:EcrCacheAdditionalBuildArgs=--label=readonly"), verbosity: "diag", environment: environment);
        second.AssertResult("built-not-pushed");
        Assert.IsFalse(EcrOperations(second).Any(c => c.Operation is "PutLifecyclePolicy" or "TagResource"), second.Describe());
        Assert.AreEqual(policy, ReadBack(moto, ws.Repository).LifecyclePolicy, "a read-only run leaves the lifecycle policy as it is");
        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, second.Tag), second.Describe());
    }

    // ---------------------------------------------------------------------------------------------------------------

    private sealed record MotoState(RepositoryInfo? Repository, Dictionary<string, string>? Tags, string? LifecyclePolicy, List<string> FoundIn, string Token);

    private sealed record RepositoryInfo(string Arn, string Uri, string RegistryId);

    private sealed record EcrCall(string Operation, string Region, string Status);

    private static string[] EcrArguments() => new[]
    {
        "-p:EcrCacheProvider=ecr",
        "-p:EcrCacheRegion=" + Region,
        "-p:EcrCacheRegistry=" + Env.Registry,
    };

    /// <summary>
    /// The child's AWS environment: every inherited AWS_* removed, then the endpoint override, other regions in
    /// AWS_REGION/AWS_DEFAULT_REGION (EcrCacheRegion must win), no instance metadata, and (optionally) moto's keys.
    /// TMPDIR is the test's own, so the private DOCKER_CONFIG folders can be looked for.
    /// </summary>
    private Dictionary<string, string?> EcrEnvironment(string moto, string tmp, bool withCredentials = true)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in Env.ChildEnvironment().Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal)))
        {
            environment[name] = null;
        }

        environment["AWS_ENDPOINT_URL_ECR"] = moto;
        environment["AWS_EC2_METADATA_DISABLED"] = "true";
        environment["AWS_CONFIG_FILE"] = Path.Combine(tmp, "no-aws-config");
        environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(tmp, "no-aws-credentials");
        environment["AWS_MAX_ATTEMPTS"] = "2";
        environment["TMPDIR"] = tmp;
        if (withCredentials)
        {
            environment["AWS_ACCESS_KEY_ID"] = "testing";
            environment["AWS_SECRET_ACCESS_KEY"] = "testing";
            environment["AWS_REGION"] = EnvironmentRegion;
            environment["AWS_DEFAULT_REGION"] = DefaultEnvironmentRegion;
        }

        return environment;
    }

    /// <summary>The `ECR &lt;Operation&gt; (&lt;region&gt;) &lt;url&gt; -> &lt;status&gt;` detail lines of the provider's client.</summary>
    private static List<EcrCall> EcrOperations(BuildResult build) =>
        Regex.Matches(build.Output, @"ECR ([A-Za-z]+) \(([a-z0-9-]+)\) \S+ -> (\S+)")
            .Select(m => new EcrCall(m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value))
            .ToList();

    private static void AssertEveryEcrCallUsed(string region, BuildResult build, params string[] expectedOperations)
    {
        var calls = EcrOperations(build);
        var operations = calls.Select(c => c.Operation).Distinct().ToList();
        CollectionAssert.IsSubsetOf(expectedOperations, operations, "expected these ECR calls (detail lines `ECR <op> (<region>) <url> -> <status>`), saw " + string.Join(", ", operations) + build.Command.Describe(200));
        var elsewhere = calls.Where(c => c.Region != region).ToList();
        Assert.AreEqual(0, elsewhere.Count, $"every ECR call must use EcrCacheRegion {region}; these did not: " + string.Join(", ", elsewhere) + build.Command.Describe(200));
    }

    /// <summary>
    /// The build logged docker in through a private DOCKER_CONFIG in its TMPDIR, and removed it: nothing named
    /// ecrcache-docker-* is left there. Returns the folder the build named.
    /// </summary>
    private static string AssertPrivateDockerConfigRemoved(BuildResult build, string tmp)
    {
        var match = Regex.Match(build.Output, @"in the private DOCKER_CONFIG (\S+) \(");
        Assert.IsTrue(match.Success, "sanity: the build should say (at diagnostic verbosity) that it logged docker in with a private DOCKER_CONFIG" + build.Command.Describe(200));
        var directory = match.Groups[1].Value;
        Assert.AreEqual(Path.GetFullPath(tmp), Path.GetDirectoryName(Path.GetFullPath(directory)), "the private DOCKER_CONFIG should be created in TMPDIR" + build.Describe());
        Assert.IsFalse(Directory.Exists(directory), "the private DOCKER_CONFIG " + directory + " was left behind");
        var leftovers = Directory.EnumerateFileSystemEntries(tmp, "ecrcache-docker-*").ToList();
        Assert.AreEqual(0, leftovers.Count, "private docker config folders were left behind: " + string.Join(", ", leftovers));
        return directory;
    }

    private static void AssertLifecyclePolicy(string? text, int days)
    {
        Assert.IsNotNull(text, "the repository has no lifecycle policy");
        using var policy = JsonDocument.Parse(text);
        var rules = policy.RootElement.GetProperty("rules");
        Assert.AreEqual(1, rules.GetArrayLength(), "one rule: " + text);
        var rule = rules[0];
        var selection = rule.GetProperty("selection");
        Assert.AreEqual("any", selection.GetProperty("tagStatus").GetString(), text);
        Assert.AreEqual("sinceImagePushed", selection.GetProperty("countType").GetString(), text);
        Assert.AreEqual("days", selection.GetProperty("countUnit").GetString(), text);
        Assert.AreEqual(days, selection.GetProperty("countNumber").GetInt32(), text);
        Assert.AreEqual("expire", rule.GetProperty("action").GetProperty("type").GetString(), text);
    }

    /// <summary>
    /// The secrets are in none of: the console output (-v:diag), the binlog (raw gunzipped bytes as UTF-8 and UTF-16,
    /// and replayed at diagnostic verbosity), the files under obj/ecrcache, and the user's DOCKER_CONFIG folder.
    /// </summary>
    private void AssertNoSecret(IReadOnlyList<(string Name, string Value)> secrets, string label, BuildResult build, string binlog, Workspace ws, string reference)
    {
        var places = new List<(string Name, string Text)> { ("console output (-v:diag)", build.Output) };

        Assert.IsTrue(File.Exists(binlog), "no binlog was written" + build.Describe());
        var raw = Gunzip(binlog);
        var rawText = Encoding.UTF8.GetString(raw);
        Assert.IsTrue(rawText.Contains(reference, StringComparison.Ordinal), "sanity: the raw binlog should contain the image reference");
        places.Add(("binlog (raw, gunzipped)", rawText));
        places.Add(("binlog (raw, gunzipped, as UTF-16)", Encoding.Unicode.GetString(raw)));
        places.Add(("binlog (raw, gunzipped, as UTF-16, odd offset)", raw.Length > 1 ? Encoding.Unicode.GetString(raw, 1, raw.Length - 1) : string.Empty));

        var replayLog = Path.Combine(ws.Root, Path.GetFileNameWithoutExtension(binlog) + "-replay.txt");
        var replay = ws.Dotnet(new[] { "msbuild", binlog, "-noconlog", "-flp:logfile=" + replayLog + ";verbosity=diagnostic" });
        Assert.AreEqual(0, replay.ExitCode, "binlog replay failed" + replay.Describe());
        var replayText = File.ReadAllText(replayLog);
        Assert.IsTrue(replayText.Contains("EcrCache: " + reference, StringComparison.Ordinal), "sanity: the replayed binlog should contain the EcrCache summary line");
        Assert.IsTrue(replayText.Contains("GetAuthorizationToken", StringComparison.Ordinal), "sanity: the replayed binlog should show the GetAuthorizationToken call");
        places.Add(("binlog replayed at diagnostic verbosity", replayText));

        var files = Directory.EnumerateFiles(ws.IntermediateDirectory, "*", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(ws.DockerConfigDirectory, "*", SearchOption.AllDirectories))
            .ToList();
        Assert.IsTrue(files.Any(f => f == ws.StampPath), "sanity: obj/ecrcache holds the stamp");
        foreach (var file in files)
        {
            places.Add((file, Encoding.UTF8.GetString(File.ReadAllBytes(file))));
        }

        foreach (var (name, text) in places)
        {
            foreach (var (secret, value) in secrets)
            {
                Assert.IsFalse(text.Contains(value, StringComparison.Ordinal), $"{label}: {secret} leaked into the {name}");
            }
        }

        Log($"{label}: searched {places.Count} places ({files.Count} files) for the ECR token; none has it.");
    }

    private MotoState ReadBack(string moto, string repository)
    {
        var others = string.Join(",", new[] { EnvironmentRegion, DefaultEnvironmentRegion, "eu-west-1", "us-east-1" }.Where(r => r != Region));
        var output = Boto3.Run(ReadBackScript, moto, Region, repository, others);
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith(JsonMarker, StringComparison.Ordinal))
            ?? throw new AssertFailedException("the boto3 read-back printed no result:\n" + output);
        using var doc = JsonDocument.Parse(line.Substring(JsonMarker.Length));
        var root = doc.RootElement;
        RepositoryInfo? info = null;
        if (root.GetProperty("repository").ValueKind == JsonValueKind.Object)
        {
            var r = root.GetProperty("repository");
            info = new RepositoryInfo(r.GetProperty("arn").GetString()!, r.GetProperty("uri").GetString()!, r.GetProperty("registryId").GetString()!);
        }

        var tags = root.GetProperty("tags").ValueKind == JsonValueKind.Object
            ? root.GetProperty("tags").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!)
            : null;
        var policy = root.GetProperty("lifecyclePolicy").ValueKind == JsonValueKind.String ? root.GetProperty("lifecyclePolicy").GetString() : null;
        var foundIn = root.GetProperty("foundIn").EnumerateArray().Select(e => e.GetString()!).ToList();
        return new MotoState(info, tags, policy, foundIn, root.GetProperty("token").GetString()!);
    }

    /// <summary>Deletes the test's repository from moto at the end (best effort), so the shared moto does not grow.</summary>
    private void ForgetRepositoryInMotoAfterwards(string moto, string repository) =>
        Track(new Callback(() => Boto3.Run(DeleteScript, new[] { moto, repository, string.Join(",", new[] { Region, EnvironmentRegion, DefaultEnvironmentRegion, "eu-west-1", "us-east-1" }) }, failOnError: false)));

    private static string Show(Dictionary<string, string>? tags) =>
        tags == null ? "(none)" : "{" + string.Join(", ", tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + "=" + t.Value)) + "}";

    private static byte[] Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        return buffer.ToArray();
    }
}
