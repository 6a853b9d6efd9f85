using System.Text.Json;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Stores.Gar;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Options
{
    /// <summary>EcrCacheProvider=gar/gcr option parsing and naming, and the cleanup-policy and label rules (no network).</summary>
    [TestClass]
    public sealed class GarOptionsTests
    {
        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-gar-options");
            File.WriteAllText(Path.Combine(_dir, "Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{}\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        [TestMethod]
        public void Gar_DefaultsToTheUsMultiRegionAndTheBuildCacheRepository()
        {
            var options = Parse(Raw("gar", project: "my-project-123"));
            Assert.AreEqual(ProviderKind.Gar, options.Provider);
            var gar = options.Gar!;
            Assert.AreEqual("us", gar.Location);
            Assert.AreEqual("build-cache", gar.RepositoryId);
            Assert.AreEqual("us-docker.pkg.dev", gar.Host);
            Assert.AreEqual("us-docker.pkg.dev/my-project-123/build-cache/build-cache/org/pipe", gar.Image);
            Assert.AreEqual("my-project-123/build-cache/build-cache/org/pipe", gar.RegistryRepository);
            Assert.AreEqual("projects/my-project-123/locations/us/repositories/build-cache", gar.RepositoryResourceName);
            Assert.AreEqual(GarOptions.DefaultEndpoint, gar.Endpoint);
            Assert.AreEqual(7, gar.MaxAgeDays, "the SDK's default for EcrCacheMaxAgeDays");
        }

        [TestMethod]
        public void Gar_LocationRepositoryHostAndEndpointAreHonoured()
        {
            var raw = Raw("gar", project: "example.com:team-proj");
            raw["GarLocation"] = "Europe-West1";
            raw["GarRepository"] = "ci-images";
            raw["GarEndpoint"] = "http://127.0.0.1:9/base";
            raw["MaxAgeDays"] = "0";
            var gar = Parse(raw).Gar!;
            Assert.AreEqual("europe-west1", gar.Location, "locations are lower-cased");
            Assert.AreEqual("europe-west1-docker.pkg.dev", gar.Host);
            Assert.AreEqual("europe-west1-docker.pkg.dev/example.com/team-proj/ci-images/build-cache/org/pipe", gar.Image, "a domain-scoped project is example.com/p in image names");
            Assert.AreEqual("projects/example.com:team-proj/locations/europe-west1/repositories/ci-images", gar.RepositoryResourceName);
            Assert.AreEqual("http://127.0.0.1:9/base/", gar.Endpoint.ToString());
            Assert.AreEqual(0, gar.MaxAgeDays);

            var overridden = Raw("gar", project: "my-project");
            overridden["Registry"] = "127.0.0.1:5000";
            Assert.AreEqual("127.0.0.1:5000/my-project/build-cache/build-cache/org/pipe", Parse(overridden).Gar!.Image, "EcrCacheRegistry(Hostname) replaces the data-plane host only");
        }

        [TestMethod]
        public void Gcr_NamesImagesAsGcrIoDidAndMapsHostsToTheirRepositoryAndLocation()
        {
            var gar = Parse(Raw("gcr", project: "foo-bar-123456")).Gar!;
            Assert.AreEqual("gcr.io/foo-bar-123456/build-cache/org/pipe", gar.Image, "the reference plugin's gcr name: registry-hostname/gcp-project/ecr-name");
            Assert.AreEqual("projects/foo-bar-123456/locations/us/repositories/gcr.io", gar.RepositoryResourceName);

            var eu = Raw("gcr", project: "foo-bar-123456");
            eu["Registry"] = "eu.gcr.io";
            var euGar = Parse(eu).Gar!;
            Assert.AreEqual("eu.gcr.io/foo-bar-123456/build-cache/org/pipe", euGar.Image);
            Assert.AreEqual("projects/foo-bar-123456/locations/europe/repositories/eu.gcr.io", euGar.RepositoryResourceName);

            var asia = Raw("gcr", project: "foo-bar-123456");
            asia["Registry"] = "asia.gcr.io";
            Assert.AreEqual("projects/foo-bar-123456/locations/asia/repositories/asia.gcr.io", Parse(asia).Gar!.RepositoryResourceName);
        }

        [TestMethod]
        public void Labels_AreLowerCasedAndValidated()
        {
            var raw = Raw("gar", project: "my-project");
            raw.EcrTags.Add(new RawItem("Team", new Dictionary<string, string> { ["Value"] = "Platform" }));
            raw.EcrTags.Add(new RawItem("cost-centre", new Dictionary<string, string> { ["Value"] = "cc_42" }));
            raw.EcrTags.Add(new RawItem("TEAM", new Dictionary<string, string> { ["Value"] = "platform" }));
            var labels = Parse(raw).Gar!.Labels;
            CollectionAssert.AreEqual(
                new[] { new KeyValuePair<string, string>("team", "platform"), new KeyValuePair<string, string>("cost-centre", "cc_42") },
                labels.ToArray());

            var bad = Raw("gar", project: "my-project");
            bad.EcrTags.Add(new RawItem("owner", new Dictionary<string, string> { ["Value"] = "a@b.com" }));
            StringAssert.Contains(AssertFails(bad, "ECRC1613").Message, "owner");

            var conflict = Raw("gar", project: "my-project");
            conflict.EcrTags.Add(new RawItem("Team", new Dictionary<string, string> { ["Value"] = "a" }));
            conflict.EcrTags.Add(new RawItem("team", new Dictionary<string, string> { ["Value"] = "b" }));
            AssertFails(conflict, "ECRC1613");

            var digit = Raw("gar", project: "my-project");
            digit.EcrTags.Add(new RawItem("1team"));
            AssertFails(digit, "ECRC1613");
        }

        [TestMethod]
        public void BadValues_AreCodedErrors()
        {
            StringAssert.Contains(AssertFails(Raw("gar", project: null), "ECRC1601").Message, "EcrCacheGcpProject");
            AssertFails(Raw("gcr", project: " "), "ECRC1601");
            AssertFails(Raw("gar", project: "My Project"), "ECRC1602");
            AssertFails(Raw("gar", project: "123456789012"), "ECRC1602");

            var location = Raw("gar", project: "my-project");
            location["GarLocation"] = "us_central1";
            AssertFails(location, "ECRC1603");

            var repository = Raw("gar", project: "my-project");
            repository["GarRepository"] = "Build_Cache";
            AssertFails(repository, "ECRC1604");

            var endpoint = Raw("gar", project: "my-project");
            endpoint["GarEndpoint"] = "artifactregistry.googleapis.com";
            AssertFails(endpoint, "ECRC1605");

            var days = Raw("gar", project: "my-project");
            days["MaxAgeDays"] = "-1";
            AssertFails(days, "ECRC1616");
        }

        [TestMethod]
        public void UnknownProviderListsGarAndGcr()
        {
            var ex = AssertFails(Raw("artifact-registry", project: "my-project"), "ECRC1008");
            StringAssert.Contains(ex.Message, "gar");
            StringAssert.Contains(ex.Message, "gcr");
        }

        [TestMethod]
        public void CleanupPolicy_IsScopedToTheImagePathAndRecognisedOnlyWhenExact()
        {
            var json = GarCleanupPolicy.ExpiryJson("build-cache/org/pipe", 7);
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var id = GarCleanupPolicy.PolicyIdFor("build-cache/org/pipe");
            StringAssert.StartsWith(id, "ecrcache-");
            Assert.AreNotEqual(id, GarCleanupPolicy.PolicyIdFor("build-cache/org/other"), "one policy per image path");
            Assert.AreEqual(id, root.GetProperty("id").GetString());
            Assert.AreEqual("DELETE", root.GetProperty("action").GetString());
            Assert.AreEqual("ANY", root.GetProperty("condition").GetProperty("tagState").GetString());
            Assert.AreEqual("604800s", root.GetProperty("condition").GetProperty("olderThan").GetString());
            Assert.AreEqual("build-cache/org/pipe", root.GetProperty("condition").GetProperty("packageNamePrefixes")[0].GetString());

            var repository = GarRepository.Parse(JsonDocument.Parse("{\"name\":\"r\",\"format\":\"DOCKER\",\"cleanupPolicies\":{\"" + id + "\":" + json + "}}").RootElement);
            var policy = repository.CleanupPolicies[id];
            Assert.IsTrue(policy.IsExpiry("build-cache/org/pipe", 7));
            Assert.IsFalse(policy.IsExpiry("build-cache/org/pipe", 8));
            Assert.IsFalse(policy.IsExpiry("build-cache/org", 7));

            var widened = GarRepository.Parse(JsonDocument.Parse(
                "{\"cleanupPolicies\":{\"x\":{\"id\":\"x\",\"action\":\"DELETE\",\"condition\":{\"tagState\":\"ANY\",\"olderThan\":\"604800.000s\",\"packageNamePrefixes\":[\"build-cache/org/pipe\"],\"tagPrefixes\":[\"v\"]}}}}").RootElement).CleanupPolicies["x"];
            Assert.AreEqual(604800L, widened.OlderThanSeconds, "fractional zero seconds parse");
            Assert.IsFalse(widened.IsExpiry("build-cache/org/pipe", 7), "an extra condition is not EcrCache's policy");
        }

        [TestMethod]
        public void Labels_MergeKeepsOtherLabelsAndReportsNoChange()
        {
            var current = new Dictionary<string, string> { ["owner"] = "ops", ["team"] = "old" };
            var merged = GarStore.MergedLabels(current, new[] { new KeyValuePair<string, string>("team", "platform") });
            CollectionAssert.AreEquivalent(new Dictionary<string, string> { ["owner"] = "ops", ["team"] = "platform" }, merged);
            Assert.IsNull(GarStore.MergedLabels(merged!, new[] { new KeyValuePair<string, string>("team", "platform") }), "nothing to write");
        }

        [TestMethod]
        public void GoogleErrors_AreParsedWithTheirReason()
        {
            var body = System.Text.Encoding.UTF8.GetBytes("{\"error\":{\"code\":403,\"message\":\"API disabled\",\"status\":\"PERMISSION_DENIED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"SERVICE_DISABLED\"}]}}");
            var (status, message, reason) = GarClient.ParseError(body);
            Assert.AreEqual("PERMISSION_DENIED", status);
            Assert.AreEqual("API disabled", message);
            Assert.AreEqual("SERVICE_DISABLED", reason);
            Assert.AreEqual((null, null, null), GarClient.ParseError(System.Text.Encoding.UTF8.GetBytes("<html>bad gateway</html>")));
        }

        private RawOptions Raw(string provider, string? project)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "img",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["Provider"] = provider,
                ["Repository"] = "build-cache/org/pipe",
                ["GcpProject"] = project,
                Environment = _ => null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            return raw;
        }

        private static CacheOptions Parse(RawOptions raw) => OptionsParser.Parse(raw, new CapturingBuildLog());

        private static EcrCacheException AssertFails(RawOptions raw, string code)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual(code, ex.Diagnostic.Code, ex.Message);
            return ex;
        }
    }
}
