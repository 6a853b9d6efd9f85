using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Stores.Ecr;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Ecr
{
    /// <summary>
    /// The IAM policy in docs/ecr.md, enforced by a moto_server of this class's own (INITIAL_NO_AUTH_ACTION_COUNT: only
    /// the IAM set-up calls go unauthenticated): exactly that policy is enough for every call the provider makes, and
    /// without any one of its actions the provider fails (or warns) with a coded diagnostic naming that action.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Registry)]
    [TestCategory(Categories.Moto)]
    public sealed class EcrIamTests
    {
        private const int SetUpCallsPerUser = 3; // CreateUser, PutUserPolicy, CreateAccessKey

        private static readonly string[] Removed = { "ecr:CreateRepository", "ecr:PutLifecyclePolicy", "ecr:GetAuthorizationToken", "ecr:TagResource", "ecr:SetRepositoryPolicy" };

        /// <summary>The JSON block after &lt;!-- iam-policy --&gt; in docs/ecr.md.</summary>
        public static string DocumentedPolicy()
        {
            var doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "ecr.md"));
            var match = Regex.Match(doc, "<!-- iam-policy -->\\s*```json\\s*(.*?)```", RegexOptions.Singleline);
            Assert.IsTrue(match.Success, "docs/ecr.md must hold the IAM policy in a ```json block after <!-- iam-policy -->");
            return match.Groups[1].Value;
        }

        private static string WidenResources(string policy)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(policy)!;
            foreach (var statement in node["Statement"]!.AsArray())
            {
                statement!["Resource"] = "*";
            }

            return node.ToJsonString();
        }

        private static string Without(string policy, string action)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(policy)!;
            var statements = node["Statement"]!.AsArray();
            foreach (var statement in statements.ToList())
            {
                var actions = statement!["Action"]!.AsArray();
                foreach (var a in actions.ToList())
                {
                    if ((string?)a == action)
                    {
                        actions.Remove(a);
                    }
                }

                if (actions.Count == 0)
                {
                    statements.Remove(statement);
                }
            }

            return node.ToJsonString();
        }

        private static List<AwsCredentials> CreateUsers(string endpoint, IReadOnlyList<string> policies)
        {
            var policyJson = JsonSerializer.Serialize(policies);
            var script = "import boto3, json\n"
                + "iam = boto3.client('iam', endpoint_url='" + endpoint + "')\n"
                + "policies = json.loads(" + JsonSerializer.Serialize(policyJson) + ")\n"
                + "for i, p in enumerate(policies):\n"
                + "    iam.create_user(UserName='agent%d' % i)\n"
                + "    iam.put_user_policy(UserName='agent%d' % i, PolicyName='ecrcache', PolicyDocument=p)\n"
                + "    k = iam.create_access_key(UserName='agent%d' % i)['AccessKey']\n"
                + "    print(k['AccessKeyId'] + ' ' + k['SecretAccessKey'])\n";
            var output = Boto3.Run(script);
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Trim().Split(' '))
                .Select(parts => new AwsCredentials(parts[0], parts[1]))
                .ToList();
        }

        private static async Task<RecordingLog> RunProviderAsync(string endpoint, AwsCredentials credentials, string repository)
        {
            var log = new RecordingLog();
            var home = TestPaths.NewTempDirectory("ecrcache-ecr-home");
            try
            {
                for (var run = 0; run < 2; run++)
                {
                    // Run 1 creates the repository with tags; run 2 finds it and applies the tags (TagResource).
                    var options = new EcrStoreOptions
                    {
                        Repository = repository,
                        RegistryOverride = TestServices.Registry,
                        Environment = Moto.Environment(endpoint, new Dictionary<string, string> { ["HOME"] = home }),
                        PrivateConfigParent = home,
                    };
                    options.Tags.Add(new KeyValuePair<string, string>("team", "platform"));
                    options.PullAccounts.Add("111122223333");
                    var client = Moto.Client(endpoint, "us-east-2", log, credentials);
                    using var store = await EcrStore.CreateAsync(client, options, new DockerCli("/usr/bin/docker", ProcessRunner.Instance, log), ProcessRunner.Instance, log, CancellationToken.None);
                    await store.PrepareAsync(CancellationToken.None);
                    Assert.IsFalse(await store.ExistsAsync("absent", CancellationToken.None));
                }
            }
            finally
            {
                Directory.Delete(home, true);
            }

            return log;
        }

        [TestMethod]
        public async Task DocumentedPolicy_IsSufficient_AndEachActionIsNeeded()
        {
            // moto authorizes ECR calls against resource "*" only (its ECR responses name no resource ARN), so the
            // repository-scoped Resource of the documented policy is widened here; the Action lists are used as written.
            var documented = WidenResources(DocumentedPolicy());
            var policies = new List<string> { documented };
            policies.AddRange(Removed.Select(action => Without(documented, action)));
            using var server = OwnMotoServer.Start(new Dictionary<string, string>
            {
                ["INITIAL_NO_AUTH_ACTION_COUNT"] = (SetUpCallsPerUser * policies.Count).ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
            var users = CreateUsers(server.Endpoint, policies);
            Assert.AreEqual(policies.Count, users.Count);

            // Exactly the documented policy: everything works, with no warning.
            var log = await RunProviderAsync(server.Endpoint, users[0], Moto.UniqueRepository());
            Assert.IsFalse(log.All.Contains("warning:", StringComparison.Ordinal), log.All);

            for (var i = 0; i < Removed.Length; i++)
            {
                var action = Removed[i];
                var credentials = users[i + 1];
                if (action == "ecr:PutLifecyclePolicy")
                {
                    // Expiry is not worth failing the build for: a coded warning that names the action.
                    var warned = await RunProviderAsync(server.Endpoint, credentials, Moto.UniqueRepository());
                    var line = warned.Lines.FirstOrDefault(l => l.StartsWith("warning: ECRC1508", StringComparison.Ordinal));
                    Assert.IsNotNull(line, warned.All);
                    StringAssert.Contains(line, "ECRC1503");
                    StringAssert.Contains(line, action);
                    continue;
                }

                var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => RunProviderAsync(server.Endpoint, credentials, Moto.UniqueRepository()), action);
                StringAssert.Contains(ex.Message, "ECRC1503", action + ": " + ex.Message);
                StringAssert.Contains(ex.Message, "Add the IAM action " + action, ex.Message);
            }
        }
    }
}
