using System.Text.Json;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Stores.Ecr;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Ecr
{
    /// <summary>EcrCacheKeepCount on ECR: the lifecycle policy moto stores holds both rules, and is not rewritten when up to date.</summary>
    public sealed partial class EcrStoreMotoTests
    {
        private EcrStoreOptions KeepCountOptions(string endpoint, string repository, int days, int keep) => new EcrStoreOptions
        {
            Repository = repository,
            MaxAgeDays = days,
            KeepCount = keep,
            Environment = Moto.Environment(endpoint, new Dictionary<string, string> { ["HOME"] = TempDir("ecrcache-ecr-home") }),
            PrivateConfigParent = TempDir("ecrcache-ecr-private"),
        };

        private async Task<EcrClient> PrepareKeepCountAsync(string endpoint, string repository, int days, int keep, RecordingLog log)
        {
            var client = Moto.Client(endpoint, "us-east-2", log);
            using (var store = await EcrStore.CreateAsync(client, KeepCountOptions(endpoint, repository, days, keep), new DockerCli("/usr/bin/docker", ProcessRunner.Instance, log), ProcessRunner.Instance, log, CancellationToken.None))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            return client;
        }

        private static async Task<JsonElement[]> RulesAsync(string endpoint, string repository)
        {
            using var doc = await Moto.CallAsync(endpoint, "us-east-2", "GetLifecyclePolicy", JsonSerializer.Serialize(new { repositoryName = repository }));
            using var policy = JsonDocument.Parse(doc.RootElement.GetProperty("lifecyclePolicyText").GetString()!);
            return policy.RootElement.GetProperty("rules").EnumerateArray().Select(r => r.Clone()).OrderBy(r => r.GetProperty("rulePriority").GetInt32()).ToArray();
        }

        [TestMethod]
        public async Task KeepCount_AddsACountRuleBesideTheAgeRule_WrittenOnce()
        {
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository();
            var log = new RecordingLog();

            var first = await PrepareKeepCountAsync(endpoint, repository, 7, 10, log);
            Assert.AreEqual(1, first.Calls.Count(c => c.Operation == "PutLifecyclePolicy"));
            var rules = await RulesAsync(endpoint, repository);
            Assert.AreEqual(2, rules.Length, "a count rule and the age rule");
            var count = rules[0].GetProperty("selection");
            Assert.AreEqual("imageCountMoreThan", count.GetProperty("countType").GetString());
            Assert.AreEqual(10, count.GetProperty("countNumber").GetInt32());
            Assert.AreEqual("tagged", count.GetProperty("tagStatus").GetString());
            var age = rules[1].GetProperty("selection");
            Assert.AreEqual("any", age.GetProperty("tagStatus").GetString(), "the tagStatus any rule is the last one");
            Assert.AreEqual("sinceImagePushed", age.GetProperty("countType").GetString());
            Assert.AreEqual(7, age.GetProperty("countNumber").GetInt32());
            Assert.IsTrue(rules.All(r => r.GetProperty("action").GetProperty("type").GetString() == "expire"));
            StringAssert.Contains(log.All, "the newest 10 images are kept and images expire 7 days after push");

            var second = await PrepareKeepCountAsync(endpoint, repository, 7, 10, log);
            Assert.AreEqual(1, second.Calls.Count(c => c.Operation == "GetLifecyclePolicy"), "the policy is read");
            Assert.AreEqual(0, second.Calls.Count(c => c.Operation == "PutLifecyclePolicy"), "an up-to-date policy is not rewritten");

            var third = await PrepareKeepCountAsync(endpoint, repository, 7, 0, log);
            Assert.AreEqual(1, third.Calls.Count(c => c.Operation == "PutLifecyclePolicy"), "dropping EcrCacheKeepCount rewrites it");
            Assert.AreEqual(1, (await RulesAsync(endpoint, repository)).Length, "back to the age rule alone");
        }

        [TestMethod]
        public async Task KeepCountWithoutAnAge_IsOneCountRuleOverEveryImage()
        {
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository();
            await PrepareKeepCountAsync(endpoint, repository, 0, 3, new RecordingLog());
            var rules = await RulesAsync(endpoint, repository);
            Assert.AreEqual(1, rules.Length);
            Assert.AreEqual("any", rules[0].GetProperty("selection").GetProperty("tagStatus").GetString());
            Assert.AreEqual("imageCountMoreThan", rules[0].GetProperty("selection").GetProperty("countType").GetString());
            Assert.AreEqual(3, rules[0].GetProperty("selection").GetProperty("countNumber").GetInt32());
        }
    }
}
