using System.Text;
using System.Text.Json;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Stores.Ecr;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Ecr
{
    /// <summary>EcrStore and EcrClient against a real moto_server (control plane), reading state back from moto.</summary>
    [TestClass]
    [TestCategory(Categories.Moto)]
    public sealed partial class EcrStoreMotoTests
    {
        private readonly List<string> _cleanup = new List<string>();

        [TestCleanup]
        public void TearDown()
        {
            foreach (var dir in _cleanup)
            {
                try
                {
                    Directory.Delete(dir, true);
                }
                catch (IOException)
                {
                }
            }
        }

        private string TempDir(string prefix)
        {
            var dir = TestPaths.NewTempDirectory(prefix);
            _cleanup.Add(dir);
            return dir;
        }

        private static DockerCli Docker(RecordingLog log) => new DockerCli("/usr/bin/docker", ProcessRunner.Instance, log);

        private EcrStoreOptions StoreOptions(string endpoint, string repository, Action<Dictionary<string, string>>? env = null)
        {
            var home = TempDir("ecrcache-ecr-home");
            var values = new Dictionary<string, string> { ["HOME"] = home };
            env?.Invoke(values);
            return new EcrStoreOptions
            {
                Repository = repository,
                Environment = Moto.Environment(endpoint, values),
                PrivateConfigParent = TempDir("ecrcache-ecr-private"),
            };
        }

        [TestMethod]
        public async Task CreatesMissingRepositoryWithTags_AndTagsAnExistingOne()
        {
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository();
            var log = new RecordingLog();
            var options = StoreOptions(endpoint, repository);
            options.Tags.Add(new KeyValuePair<string, string>("team", "platform"));
            options.Tags.Add(new KeyValuePair<string, string>("purpose", "build-cache"));
            EcrRepository created;
            using (var store = await EcrStore.CreateAsync(Moto.Client(endpoint, "us-east-2", log), options, Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                created = store.Repository;
                Assert.AreEqual("123456789012.dkr.ecr.us-east-2.amazonaws.com/" + repository, store.Image, "the image is named from the repositoryUri");
            }

            var tags = await Moto.TagsAsync(endpoint, "us-east-2", created.Arn);
            Assert.AreEqual("platform", tags["team"]);
            Assert.AreEqual("build-cache", tags["purpose"]);

            var again = StoreOptions(endpoint, repository);
            again.Tags.Add(new KeyValuePair<string, string>("team", "infra"));
            again.Tags.Add(new KeyValuePair<string, string>("owner", "ci"));
            var client = Moto.Client(endpoint, "us-east-2", log);
            using (await EcrStore.CreateAsync(client, again, Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                CollectionAssert.AreEqual(new[] { "DescribeRepositories", "TagResource" }, client.Calls.Select(c => c.Operation).ToArray(), "an existing repository is tagged, not re-created");
            }

            tags = await Moto.TagsAsync(endpoint, "us-east-2", created.Arn);
            Assert.AreEqual("infra", tags["team"]);
            Assert.AreEqual("ci", tags["owner"]);
            Assert.AreEqual("build-cache", tags["purpose"]);
        }

        [TestMethod]
        public async Task LifecyclePolicy_IsSetWithTheDays_AndNotRewrittenWhenUnchanged()
        {
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository();
            var log = new RecordingLog();

            var first = Moto.Client(endpoint, "us-east-2", log);
            using (var store = await EcrStore.CreateAsync(first, StoreOptions(endpoint, repository), Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            Assert.AreEqual(1, first.Calls.Count(c => c.Operation == "PutLifecyclePolicy"));
            using (var doc = await Moto.CallAsync(endpoint, "us-east-2", "GetLifecyclePolicy", JsonSerializer.Serialize(new { repositoryName = repository })))
            {
                using var policy = JsonDocument.Parse(doc.RootElement.GetProperty("lifecyclePolicyText").GetString()!);
                var rules = policy.RootElement.GetProperty("rules");
                Assert.AreEqual(1, rules.GetArrayLength(), "one rule");
                var selection = rules[0].GetProperty("selection");
                Assert.AreEqual("any", selection.GetProperty("tagStatus").GetString());
                Assert.AreEqual("sinceImagePushed", selection.GetProperty("countType").GetString());
                Assert.AreEqual("days", selection.GetProperty("countUnit").GetString());
                Assert.AreEqual(7, selection.GetProperty("countNumber").GetInt32(), "default EcrCacheMaxAgeDays is 7");
                Assert.AreEqual("expire", rules[0].GetProperty("action").GetProperty("type").GetString());
            }

            var second = Moto.Client(endpoint, "us-east-2", log);
            using (var store = await EcrStore.CreateAsync(second, StoreOptions(endpoint, repository), Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            Assert.AreEqual(1, second.Calls.Count(c => c.Operation == "GetLifecyclePolicy"), "the policy is read");
            Assert.AreEqual(0, second.Calls.Count(c => c.Operation == "PutLifecyclePolicy"), "an unchanged policy is not rewritten");

            var third = Moto.Client(endpoint, "us-east-2", log);
            var thirty = StoreOptions(endpoint, repository);
            thirty.MaxAgeDays = 30;
            using (var store = await EcrStore.CreateAsync(third, thirty, Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            Assert.AreEqual(1, third.Calls.Count(c => c.Operation == "PutLifecyclePolicy"), "a changed EcrCacheMaxAgeDays rewrites it");
            using (var doc = await Moto.CallAsync(endpoint, "us-east-2", "GetLifecyclePolicy", JsonSerializer.Serialize(new { repositoryName = repository })))
            {
                StringAssert.Contains(doc.RootElement.GetProperty("lifecyclePolicyText").GetString()!, "\"countNumber\":30");
            }
        }

        [TestMethod]
        public async Task Region_IsUsedForEveryCall()
        {
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository();
            var log = new RecordingLog();

            // Region from EcrCacheRegion (not from AWS_REGION, which points elsewhere) through the engine's own resolution.
            var env = Moto.Environment(endpoint, new Dictionary<string, string> { ["AWS_REGION"] = "eu-central-1", ["HOME"] = TempDir("ecrcache-ecr-home") });
            var settings = EcrSettings.Resolve("ap-southeast-2", null, env);
            Assert.AreEqual("ap-southeast-2", settings.Region);
            var client = new EcrClient(settings, new DefaultAwsCredentialSource(env), log);
            var options = new EcrStoreOptions { Repository = repository, Environment = env, PrivateConfigParent = TempDir("ecrcache-ecr-private") };
            options.PullAccounts.Add("111122223333");
            using (var store = await EcrStore.CreateAsync(client, options, Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                await store.PrepareAsync(CancellationToken.None);
                StringAssert.Contains(store.Image, ".dkr.ecr.ap-southeast-2.amazonaws.com/");
            }

            var operations = client.Calls.Select(c => c.Operation).Distinct().ToList();
            CollectionAssert.IsSubsetOf(new[] { "DescribeRepositories", "CreateRepository", "GetLifecyclePolicy", "PutLifecyclePolicy", "GetRepositoryPolicy", "SetRepositoryPolicy", "GetAuthorizationToken" }, operations);
            Assert.IsTrue(client.Calls.All(c => c.Region == "ap-southeast-2"), string.Join("\n", client.Calls));

            using var other = Moto.Client(endpoint, "eu-west-1");
            Assert.IsNull(await other.DescribeRepositoryAsync(repository, CancellationToken.None), "nothing was created in eu-west-1");
            using var central = Moto.Client(endpoint, "eu-central-1");
            Assert.IsNull(await central.DescribeRepositoryAsync(repository, CancellationToken.None), "nothing was created in AWS_REGION's region");
            using var right = Moto.Client(endpoint, "ap-southeast-2");
            Assert.IsNotNull(await right.DescribeRepositoryAsync(repository, CancellationToken.None));
            using var policy = await Moto.CallAsync(endpoint, "ap-southeast-2", "GetLifecyclePolicy", JsonSerializer.Serialize(new { repositoryName = repository }));
            using var repoPolicy = await Moto.CallAsync(endpoint, "ap-southeast-2", "GetRepositoryPolicy", JsonSerializer.Serialize(new { repositoryName = repository }));
            StringAssert.Contains(repoPolicy.RootElement.GetProperty("policyText").GetString()!, "arn:aws:iam::111122223333:root");
        }

        [TestMethod]
        public async Task PullAccounts_PolicyIsSetOnce()
        {
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository();
            var log = new RecordingLog();
            for (var run = 0; run < 2; run++)
            {
                var client = Moto.Client(endpoint, "us-east-2", log);
                var options = StoreOptions(endpoint, repository);
                options.PullAccounts.Add("111122223333");
                options.PullAccounts.Add("444455556666");
                using (var store = await EcrStore.CreateAsync(client, options, Docker(log), ProcessRunner.Instance, log, CancellationToken.None))
                {
                    await store.PrepareAsync(CancellationToken.None);
                }

                Assert.AreEqual(run == 0 ? 1 : 0, client.Calls.Count(c => c.Operation == "SetRepositoryPolicy"), "run " + run);
            }

            using var doc = await Moto.CallAsync(endpoint, "us-east-2", "GetRepositoryPolicy", JsonSerializer.Serialize(new { repositoryName = repository }));
            using var policy = JsonDocument.Parse(doc.RootElement.GetProperty("policyText").GetString()!);
            var statement = policy.RootElement.GetProperty("Statement")[0];
            var principals = statement.GetProperty("Principal").GetProperty("AWS").EnumerateArray().Select(p => p.GetString()).ToList();
            CollectionAssert.AreEquivalent(new[] { "arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root" }, principals);
            CollectionAssert.AreEquivalent(EcrPolicies.PullActions.ToArray(), statement.GetProperty("Action").EnumerateArray().Select(a => a.GetString()).ToArray());
        }

        [TestMethod]
        public async Task Login_WritesPrivateDockerConfig_NeverLogsTheToken_AndCleansUp()
        {
            var endpoint = Moto.Endpoint;
            var log = new RecordingLog();
            var options = StoreOptions(endpoint, Moto.UniqueRepository());
            var docker = Docker(log);
            string directory;
            string token;
            using (var store = await EcrStore.CreateAsync(Moto.Client(endpoint, "us-east-2", log), options, docker, ProcessRunner.Instance, log, CancellationToken.None))
            {
                await store.PrepareAsync(CancellationToken.None);
                Assert.IsTrue(store.LoggedIn);
                directory = store.PrivateDockerConfigDirectory!;
                Assert.AreEqual(directory, docker.Environment["DOCKER_CONFIG"], "every docker child gets the private config");
                using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
                var auth = config.RootElement.GetProperty("auths").GetProperty(store.RegistryHost).GetProperty("auth").GetString()!;
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
                Assert.IsTrue(decoded.StartsWith("AWS:", StringComparison.Ordinal));
                token = decoded.Substring(4);
                Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "config.json")));
            }

            Assert.IsFalse(Directory.Exists(directory), "the private config is deleted with the store");
            Assert.IsFalse(docker.Environment.ContainsKey("DOCKER_CONFIG"));
            log.AssertNoSecret(token, Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:" + token)));
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task CredentialHelper_ForTheHost_MeansNoLoginAndNoToken()
        {
            var endpoint = Moto.Endpoint;
            // The data plane is the basic-auth registry: its 401 makes the HEAD ask the helper, as docker would.
            var registry = TestServices.AuthRegistry;
            var log = new RecordingLog();
            var bin = TempDir("ecrcache-ecr-bin");
            var record = Path.Combine(bin, "asked.txt");
            var helper = Path.Combine(bin, "docker-credential-ecr-login");
            File.WriteAllText(helper, "#!/bin/sh\nread host\necho \"$1 $host\" >> '" + record + "'\necho '{\"ServerURL\":\"'$host'\",\"Username\":\"" + TestServices.AuthUser + "\",\"Secret\":\"" + TestServices.AuthPassword + "\"}'\n");
            File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var home = TempDir("ecrcache-ecr-home");
            Directory.CreateDirectory(Path.Combine(home, ".docker"));
            File.WriteAllText(Path.Combine(home, ".docker", "config.json"), "{\"credHelpers\":{\"" + registry + "\":\"ecr-login\"}}");
            var options = new EcrStoreOptions
            {
                Repository = Moto.UniqueRepository(),
                RegistryOverride = registry,
                Environment = Moto.Environment(endpoint, new Dictionary<string, string> { ["HOME"] = home, ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH") }),
                PrivateConfigParent = TempDir("ecrcache-ecr-private"),
            };
            var docker = Docker(log);
            var client = Moto.Client(endpoint, "us-east-2", log);
            using (var store = await EcrStore.CreateAsync(client, options, docker, ProcessRunner.Instance, log, CancellationToken.None))
            {
                Assert.IsFalse(await store.ExistsAsync("no-such-tag", CancellationToken.None));
                Assert.IsFalse(store.LoggedIn);
                Assert.IsNull(store.PrivateDockerConfigDirectory);
            }

            Assert.AreEqual(0, client.Calls.Count(c => c.Operation == "GetAuthorizationToken"), "no token is asked for");
            Assert.IsFalse(docker.Environment.ContainsKey("DOCKER_CONFIG"), "docker keeps the user's config");
            Assert.AreEqual(0, Directory.GetFileSystemEntries(options.PrivateConfigParent!).Length, "nothing was written");
            StringAssert.Contains(log.All, "not logging in");
            StringAssert.Contains(File.ReadAllText(record), "get " + registry, "the HEAD asked docker-credential-ecr-login");
        }

        [TestMethod]
        public async Task InvalidRepositoryName_IsCoded()
        {
            var endpoint = Moto.Endpoint;
            var log = new RecordingLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => EcrStore.CreateAsync(Moto.Client(endpoint, "us-east-2", log), StoreOptions(endpoint, "Build-Cache/UPPER"), Docker(log), ProcessRunner.Instance, log, CancellationToken.None));
            Assert.AreEqual("ECRC1504", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task WrongSecret_IsCredentialsRejected()
        {
            // The shared moto does not enforce IAM, but it checks nothing either; a signature moto rejects needs IAM on.
            using var server = OwnMotoServer.Start(new Dictionary<string, string> { ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0" });
            using var client = Moto.Client(server.Endpoint, "us-east-2", new RecordingLog(), new AwsCredentials("AKIAIOSFODNN7EXAMPLE", "wrong"));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.DescribeRepositoryAsync("a/b", CancellationToken.None));
            Assert.AreEqual("ECRC1502", ex.Diagnostic.Code, ex.Message);
        }
    }
}
