using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Keys;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Stores;
using EcrCache.Stores.Ecr;
using EcrCache.Stores.Gar;
using EcrCache.Stores.Registry;
using EcrCache.Stores.Tarballs;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores
{
    /// <summary>Retention by count and registry pruning: the option parsing, the policies' JSON and the pruning choice.</summary>
    [TestClass]
    public sealed class RetentionTests
    {
        private static readonly DateTime Now = new DateTime(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);

        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-retention");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{}");
        }

        [TestCleanup]
        public void TearDown()
        {
            try
            {
                Directory.Delete(_dir, true);
            }
            catch (IOException)
            {
            }
        }

        private static string Key(int n) => n.ToString("x24");

        private RawOptions Raw(string provider, Action<RawOptions>? configure = null)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "retention",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM scratch\n",
                ["Repository"] = "build-cache/retention",
                ["Provider"] = provider,
                Environment = _ => null,
            };
            if (provider == "registry")
            {
                raw["Registry"] = "127.0.0.1:5000";
            }

            if (provider == "directory")
            {
                raw["CacheDirectory"] = "cache";
            }

            configure?.Invoke(raw);
            return raw;
        }

        private static string Code(Action action) => Assert.ThrowsExactly<EcrCacheException>(action).Diagnostic.Code;

        // ------------------------------------------------------------------ options

        [TestMethod]
        public void KeepCount_IsAPositiveWholeNumber_AndEmptyIsOff()
        {
            Assert.AreEqual(0, OptionsParser.Parse(Raw("directory"), new CapturingBuildLog()).KeepCount);
            var options = OptionsParser.Parse(Raw("directory", r => r["KeepCount"] = " 5 "), new CapturingBuildLog());
            Assert.AreEqual(5, options.KeepCount);
            Assert.AreEqual(5, options.Tarball!.KeepCount, "the tarball store gets the count");
            foreach (var bad in new[] { "0", "-1", "1.5", "ten", "10001" })
            {
                Assert.AreEqual("ECRC1060", Code(() => OptionsParser.Parse(Raw("directory", r => r["KeepCount"] = bad), new CapturingBuildLog())), bad);
            }
        }

        [TestMethod]
        public void RegistryPrune_NeedsALimitTheUserChose()
        {
            // Sdk.targets always passes MaxAgeDays=7: that default is no reason to delete from a registry.
            Assert.AreEqual("ECRC1061", Code(() => OptionsParser.Parse(Raw("registry", r =>
            {
                r["RegistryPrune"] = "true";
                r["MaxAgeDays"] = "7";
                r["SdkDefaults"] = "EcrCacheMaxAgeDays";
            }), new CapturingBuildLog())));
            Assert.AreEqual("ECRC1061", Code(() => OptionsParser.Parse(Raw("registry", r =>
            {
                r["RegistryPrune"] = "true";
                r["MaxAgeDays"] = "0";
            }), new CapturingBuildLog())));

            var byAge = OptionsParser.Parse(Raw("registry", r =>
            {
                r["RegistryPrune"] = "true";
                r["MaxAgeDays"] = "14";
            }), new CapturingBuildLog());
            Assert.IsTrue(byAge.RegistryPrune);
            Assert.AreEqual(14, byAge.RegistryPruneMaxAgeDays);
            Assert.AreEqual(TimeSpan.FromHours(1), byAge.RegistryPruneGrace, "default grace");

            var log = new CapturingBuildLog();
            var byCount = OptionsParser.Parse(Raw("registry", r =>
            {
                r["RegistryPrune"] = "yes";
                r["KeepCount"] = "20";
                r["RegistryPruneGrace"] = "2.00:00:00";
                r["MaxAgeDays"] = "7";
                r["SdkDefaults"] = "EcrCacheMaxAgeDays";
            }), log);
            Assert.AreEqual(20, byCount.KeepCount);
            Assert.AreEqual(0, byCount.RegistryPruneMaxAgeDays, "the SDK default age is not used for pruning");
            Assert.AreEqual(TimeSpan.FromDays(2), byCount.RegistryPruneGrace);
            Assert.AreEqual(0, log.Warnings.Count(w => w.Code == "ECRC1029"), "a pruning registry reads KeepCount: " + string.Join(" | ", log.Warnings));
        }

        [TestMethod]
        public void KeepCountUnderARegistryThatDoesNotPrune_IsIgnoredWithAWarning()
        {
            var log = new CapturingBuildLog();
            OptionsParser.Parse(Raw("registry", r => r["KeepCount"] = "3"), log);
            Assert.IsTrue(log.Warnings.Any(w => w.Code == "ECRC1029" && w.Message.StartsWith("EcrCacheKeepCount", StringComparison.Ordinal)), string.Join(" | ", log.Warnings));

            var grace = new CapturingBuildLog();
            OptionsParser.Parse(Raw("directory", r => r["RegistryPruneGrace"] = "30"), grace);
            Assert.IsTrue(grace.Warnings.Any(w => w.Code == "ECRC1029" && w.Message.StartsWith("EcrCacheRegistryPruneGrace", StringComparison.Ordinal)));
            Assert.AreEqual("ECRC1062", Code(() => OptionsParser.Parse(Raw("registry", r => r["RegistryPruneGrace"] = "soon"), new CapturingBuildLog())));
        }

        [TestMethod]
        public void ExplainImage_MustBeAReference()
        {
            Assert.AreEqual("127.0.0.1:5000/build-cache/app:" + Key(1), OptionsParser.Parse(Raw("local", r => r["ExplainImage"] = " 127.0.0.1:5000/build-cache/app:" + Key(1) + " "), new CapturingBuildLog()).ExplainImage);
            Assert.IsNull(OptionsParser.Parse(Raw("local"), new CapturingBuildLog()).ExplainImage);
            Assert.AreEqual("ECRC1063", Code(() => OptionsParser.Parse(Raw("local", r => r["ExplainImage"] = "Not A Reference"), new CapturingBuildLog())));
        }

        // ------------------------------------------------------------------ ECR lifecycle rules

        [TestMethod]
        public void EcrLifecycle_CountRuleComesFirst_AndTheAnyRuleLast()
        {
            using var both = JsonDocument.Parse(EcrPolicies.LifecyclePolicy(7, 10));
            var rules = both.RootElement.GetProperty("rules");
            Assert.AreEqual(2, rules.GetArrayLength());
            Assert.AreEqual(1, rules[0].GetProperty("rulePriority").GetInt32());
            Assert.AreEqual("tagged", rules[0].GetProperty("selection").GetProperty("tagStatus").GetString(), "only the last rule may be tagStatus any");
            Assert.AreEqual("*", rules[0].GetProperty("selection").GetProperty("tagPatternList")[0].GetString());
            Assert.AreEqual("imageCountMoreThan", rules[0].GetProperty("selection").GetProperty("countType").GetString());
            Assert.AreEqual(10, rules[0].GetProperty("selection").GetProperty("countNumber").GetInt32());
            Assert.IsFalse(rules[0].GetProperty("selection").TryGetProperty("countUnit", out _), "a count rule has no unit");
            Assert.AreEqual(2, rules[1].GetProperty("rulePriority").GetInt32());
            Assert.AreEqual("any", rules[1].GetProperty("selection").GetProperty("tagStatus").GetString());
            Assert.AreEqual("sinceImagePushed", rules[1].GetProperty("selection").GetProperty("countType").GetString());

            using var countOnly = JsonDocument.Parse(EcrPolicies.LifecyclePolicy(0, 3));
            var single = countOnly.RootElement.GetProperty("rules");
            Assert.AreEqual(1, single.GetArrayLength());
            Assert.AreEqual("any", single[0].GetProperty("selection").GetProperty("tagStatus").GetString());
            Assert.AreEqual(3, single[0].GetProperty("selection").GetProperty("countNumber").GetInt32());

            Assert.AreEqual(EcrPolicies.LifecyclePolicy(7), EcrPolicies.LifecyclePolicy(7, 0), "without a count the policy is the age rule alone, as before");
        }

        [TestMethod]
        public void EcrLifecycle_MatchesItsOwnRulesOnly()
        {
            Assert.IsTrue(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7, 10), 7, 10));
            Assert.IsTrue(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(0, 10), 0, 10));
            Assert.IsTrue(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7), 7, 0));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7), 7, 10), "a count to add");
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7, 10), 7, 0), "a count to remove");
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7, 10), 7, 11));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7, 10), 8, 10));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(0, 10), 7, 10));

            // Priorities as another tool numbered them, in another array order: the same rules.
            var renumbered = "{\"rules\":[{\"rulePriority\":20,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":7},\"action\":{\"type\":\"expire\"}},"
                + "{\"rulePriority\":10,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":10},\"action\":{\"type\":\"expire\"}}]}";
            Assert.IsTrue(EcrPolicies.LifecyclePolicyMatches(renumbered, 7, 10));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(renumbered.Replace("[\"*\"]", "[\"release-*\"]"), 7, 10));
        }

        // ------------------------------------------------------------------ Artifact Registry keep policy

        [TestMethod]
        public void GarKeepPolicy_KeepsTheNewestVersionsOfThePath()
        {
            using var json = JsonDocument.Parse(GarCleanupPolicy.KeepJson("build-cache/org/pipe", 5));
            var root = json.RootElement;
            Assert.AreEqual(GarCleanupPolicy.PolicyIdFor("build-cache/org/pipe") + "-keep", root.GetProperty("id").GetString());
            Assert.AreEqual("KEEP", root.GetProperty("action").GetString());
            Assert.AreEqual(5, root.GetProperty("mostRecentVersions").GetProperty("keepCount").GetInt32());
            Assert.AreEqual("build-cache/org/pipe", root.GetProperty("mostRecentVersions").GetProperty("packageNamePrefixes")[0].GetString());

            var policy = GarCleanupPolicy.Parse(GarCleanupPolicy.KeepPolicyIdFor("build-cache/org/pipe"), root);
            Assert.IsTrue(policy.IsKeep("build-cache/org/pipe", 5));
            Assert.IsFalse(policy.IsKeep("build-cache/org/pipe", 6));
            Assert.IsFalse(policy.IsKeep("build-cache/org", 5));
            Assert.IsFalse(policy.IsExpiry("build-cache/org/pipe", 7), "a keep policy is not the expiry");
        }

        // ------------------------------------------------------------------ what count pruning may touch

        [TestMethod]
        public void OnlyKeyTagsCount()
        {
            Assert.IsTrue(Retention.IsKeyTag("408bbf2a527ea7470b5b98e9"));
            Assert.IsFalse(Retention.IsKeyTag("latest"));
            Assert.IsFalse(Retention.IsKeyTag("408bbf2a527ea7470b5b98e9-lease"));
            Assert.IsFalse(Retention.IsKeyTag("408BBF2A527EA7470B5B98E9"));
            Assert.IsFalse(Retention.IsKeyTag("408bbf2a527ea7470b5b98e"));
            Assert.IsFalse(Retention.IsKeyTag("branch-main"));
        }

        [TestMethod]
        public void BeyondNewest_IsStable_AndZeroMeansNoLimit()
        {
            var items = new[] { ("a", 3), ("b", 1), ("c", 3), ("d", 2) };
            var beyond = Retention.BeyondNewest(items, 2, i => new DateTime(2026, 1, i.Item2), i => i.Item1);
            CollectionAssert.AreEqual(new[] { "d", "b" }, beyond.Select(i => i.Item1).ToArray(), "a and c (newest, ties by name) stay");
            Assert.AreEqual(0, Retention.BeyondNewest(items, 0, i => new DateTime(2026, 1, i.Item2), i => i.Item1).Count);
            Assert.AreEqual(0, Retention.BeyondNewest(items, 9, i => new DateTime(2026, 1, i.Item2), i => i.Item1).Count);
        }

        [TestMethod]
        public void DirectoryStore_PrunesKeyEntriesBeyondTheNewestAfterAPush()
        {
            var folder = Path.Combine(_dir, "cache");
            var store = new DirectoryTarballStore(folder, "build-cache/retention", 0, 0, new DockerCli("docker", new NoProcesses(), new CapturingBuildLog()), new CapturingBuildLog()) { KeepCount = 2 };
            Directory.CreateDirectory(Path.Combine(folder, DirectoryTarballStore.LockFolderName));
            for (var i = 1; i <= 5; i++)
            {
                var path = store.EntryPath(Key(i));
                File.WriteAllText(path, "x");
                File.SetLastWriteTimeUtc(path, Now.AddDays(-10 + i));
            }

            foreach (var other in new[] { "latest", "branch-main" })
            {
                File.WriteAllText(store.EntryPath(other), "x");
                File.SetLastWriteTimeUtc(store.EntryPath(other), Now.AddDays(-30));
            }

            store.Prune(keep: null);
            Assert.AreEqual(7, Directory.GetFiles(folder, "*.tar.gz").Length, "no count pruning without a push");

            // The push wrote entry 3 last of all (its write time is old here: the one just written is never pruned).
            store.Prune(keep: store.EntryPath(Key(3)));
            var left = Directory.GetFiles(folder, "*.tar.gz").Select(p => Path.GetFileName(p)).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            var expected = new[] { "branch-main.tar.gz", Key(3) + ".tar.gz", Key(4) + ".tar.gz", Key(5) + ".tar.gz", "latest.tar.gz" }.OrderBy(n => n, StringComparer.Ordinal).ToArray();
            CollectionAssert.AreEqual(expected, left, "entries 4 and 5 are the newest two, 3 was just written; latest and other names never count");
        }

        // ------------------------------------------------------------------ the registry pruner's choice

        private static PruneCandidate Tag(string tag, string digest, double? hoursAgo) =>
            new PruneCandidate(tag, "sha256:" + digest.PadLeft(64, '0'), hoursAgo == null ? null : Now.AddHours(-hoursAgo.Value));

        private static string[] Deleted(IReadOnlyList<PruneDeletion> deletions) => deletions.SelectMany(d => d.Tags).OrderBy(t => t, StringComparer.Ordinal).ToArray();

        [TestMethod]
        public void Pruner_KeepsTheNewestN_AndEveryProtectedTagAndDigest()
        {
            var tags = new[]
            {
                Tag(Key(1), "1", 240), Tag(Key(2), "2", 216), Tag(Key(3), "3", 192), Tag(Key(4), "4", 168), Tag(Key(5), "5", 144),
                Tag(Key(6), "6", 2), Tag(Key(7), "7", 0.1),
                Tag("latest", "1", null),             // points at the oldest key's manifest
                Tag("release-1", "2", null),          // protected by the caller's list
                Tag(Key(3) + "-lease", "a", null),    // a lease
                Tag("manual", "b", null),             // somebody's own tag: never a candidate
                Tag(Key(8), "4", 300),                // an old key on the same manifest as key 4
            };
            var deletions = RegistryPruner.Select(tags, Key(6), new[] { "release-1" }, new RegistryPruneSettings(3, 0, TimeSpan.FromHours(1)), Now);
            CollectionAssert.AreEqual(new[] { Key(3), Key(4), Key(8) }, Deleted(deletions), "keys 7, 6, 5 are the newest three; 1 and 2 share a protected manifest");
            Assert.AreEqual(2, deletions.Count, "key 4 and key 8 are one manifest, deleted once");
            CollectionAssert.AreEqual(new[] { Key(4), Key(8) }, deletions.Single(d => d.Tags.Count == 2).Tags.ToArray());
        }

        [TestMethod]
        public void Pruner_NeverDeletesTheCurrentKey_AYoungTag_OrOneOfUnknownAge()
        {
            var tags = new[] { Tag(Key(1), "1", 0.5), Tag(Key(2), "2", 0.9), Tag(Key(3), "3", 5), Tag(Key(4), "4", null), Tag(Key(5), "5", 48) };
            var deletions = RegistryPruner.Select(tags, Key(5), Array.Empty<string>(), new RegistryPruneSettings(1, 0, TimeSpan.FromHours(1)), Now);
            CollectionAssert.AreEqual(new[] { Key(3) }, Deleted(deletions), "1 is kept by count, 2 is in its grace hour, 4 has no age, 5 is the current key");

            var longGrace = RegistryPruner.Select(tags, Key(5), Array.Empty<string>(), new RegistryPruneSettings(1, 0, TimeSpan.FromHours(6)), Now);
            Assert.AreEqual(0, longGrace.Count);
        }

        [TestMethod]
        public void Pruner_ByAge_DeletesKeysOlderThanMaxAgeDays()
        {
            var tags = new[] { Tag(Key(1), "1", 24 * 10), Tag(Key(2), "2", 24 * 3), Tag(Key(3), "3", 1.5), Tag("latest", "3", null) };
            var deletions = RegistryPruner.Select(tags, Key(3), Array.Empty<string>(), new RegistryPruneSettings(0, 7, TimeSpan.FromHours(1)), Now);
            CollectionAssert.AreEqual(new[] { Key(1) }, Deleted(deletions));
            StringAssert.Contains(deletions[0].Reason, "EcrCacheMaxAgeDays=7");

            var both = RegistryPruner.Select(tags, Key(3), Array.Empty<string>(), new RegistryPruneSettings(1, 7, TimeSpan.FromHours(1)), Now);
            CollectionAssert.AreEqual(new[] { Key(1), Key(2) }, Deleted(both), "count and age both apply");
        }

        [TestMethod]
        public async Task Pruner_AgainstARegistryThatRefusesDeletes_WarnsOnceAndGoesOn()
        {
            // A second docker-registry without delete would cost a process per run; the 405 answer is what distribution
            // sends when storage.delete is off, so a scripted transport stands in for it here.
            var configs = new Dictionary<string, byte[]>();
            var manifests = new Dictionary<string, byte[]>();
            foreach (var n in new[] { 1, 2, 3 })
            {
                var config = Encoding.UTF8.GetBytes("{\"created\":\"" + Now.AddDays(-n).ToString("o") + "\",\"config\":{}}");
                var configDigest = OciDigest.Compute(config);
                configs[configDigest] = config;
                manifests[Key(n)] = Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"mediaType\":\"" + ManifestMediaTypes.OciManifest + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest + "\",\"size\":" + config.Length + "},\"layers\":[]}");
            }

            var deletes = 0;
            var handler = new FakeHandler(request =>
            {
                var path = request.RequestUri!.AbsolutePath;
                if (path.EndsWith("/tags/list", StringComparison.Ordinal))
                {
                    return FakeHandler.Status(200, "{\"name\":\"app\",\"tags\":[\"" + Key(1) + "\",\"" + Key(2) + "\",\"" + Key(3) + "\"]}", "application/json");
                }

                if (request.Method == HttpMethod.Delete)
                {
                    deletes++;
                    return FakeHandler.Status(405, "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"The operation is unsupported.\"}]}", "application/json");
                }

                var reference = path.Substring(path.LastIndexOf('/') + 1);
                if (path.Contains("/blobs/", StringComparison.Ordinal))
                {
                    return FakeHandler.Status(200, Encoding.UTF8.GetString(configs[reference]), "application/octet-stream");
                }

                var body = manifests.TryGetValue(reference, out var byTag) ? byTag : manifests.Values.First(m => OciDigest.Compute(m) == reference);
                return FakeHandler.Manifest(Encoding.UTF8.GetString(body), OciDigest.Compute(body), ManifestMediaTypes.OciManifest);
            });
            var log = new RecordingLog();
            using var client = new RegistryClient(RegistryEndpoint.Parse("registry.example.com"), StaticCredentialProvider.Anonymous, log, handler);

            await RegistryPruner.PruneAsync(client, "app", Key(1), Array.Empty<string>(), new RegistryPruneSettings(1, 0, TimeSpan.Zero), log, Now, CancellationToken.None);

            Assert.AreEqual(1, deletes, "the first refusal stops pruning");
            var warnings = log.Lines.Where(l => l.StartsWith("warning:", StringComparison.Ordinal)).ToList();
            Assert.AreEqual(1, warnings.Count, log.All);
            StringAssert.Contains(warnings[0], "ECRC1330");
            StringAssert.Contains(warnings[0], "storage.delete.enabled");
        }

        // ------------------------------------------------------------------ labels and explain-image parsing

        [TestMethod]
        public void Labels_StripCredentialsFromTheSource_AndDigestTheManifestFile()
        {
            Assert.AreEqual("https://github.com/org/app.git", ImageLabels.StripCredentials("https://x-access-token:ghs_secret@github.com/org/app.git"));
            Assert.AreEqual("https://github.com/org/app.git", ImageLabels.StripCredentials("https://user@github.com/org/app.git"));
            Assert.AreEqual("git@github.com:org/app.git", ImageLabels.StripCredentials("git@github.com:org/app.git"), "scp-like: no secret to strip");
            Assert.AreEqual("ssh://github.com/org/app.git", ImageLabels.StripCredentials("ssh://git@github.com/org/app.git"));
            Assert.AreEqual("2026-12-04T12:00:00Z", ImageLabels.FormatTime(Now));

            var manifest = new KeyManifest(KeyManifest.AlgorithmVersion, new[] { new KeyManifestEntry("algorithm", "ecrcache", "2") });
            var file = Path.Combine(_dir, "key-manifest.json");
            File.WriteAllText(file, manifest.ToJson(), new UTF8Encoding(false));
            using var sha = SHA256.Create();
            var expected = "sha256:" + Convert.ToHexString(sha.ComputeHash(File.ReadAllBytes(file))).ToLowerInvariant();
            Assert.AreEqual(expected, ImageLabels.InputsDigest(manifest), "sha256sum of key-manifest.json gives the label");
        }

        [TestMethod]
        public async Task Labels_ComeFromBuildkite_ElseGit_AndNeverFailTheBuild()
        {
            var key = new CacheKey(new KeyManifest(KeyManifest.AlgorithmVersion, new[] { new KeyManifestEntry("algorithm", "ecrcache", "2") }));
            var env = new Dictionary<string, string> { ["BUILDKITE_COMMIT"] = "abc123", ["BUILDKITE_REPO"] = "https://token@github.com/org/app.git" };
            var labels = (await ImageLabels.ForBuildAsync(key, _dir, n => env.TryGetValue(n, out var v) ? v : null, new NoProcesses(), new CapturingBuildLog(), Now, CancellationToken.None))
                .ToDictionary(p => p.Key, p => p.Value);
            Assert.AreEqual("2026-12-04T12:00:00Z", labels[ImageLabels.Created]);
            Assert.AreEqual("abc123", labels[ImageLabels.Revision]);
            Assert.AreEqual("https://github.com/org/app.git", labels[ImageLabels.Source]);
            Assert.AreEqual(key.Hash, labels[ImageLabels.Key]);
            Assert.AreEqual(ImageLabels.InputsDigest(key.Manifest), labels[ImageLabels.Inputs]);

            // No Buildkite and a git that cannot run: the two labels are left out, nothing throws.
            var bare = (await ImageLabels.ForBuildAsync(key, _dir, _ => null, new NoProcesses(), new CapturingBuildLog(), Now, CancellationToken.None)).Select(p => p.Key).ToArray();
            CollectionAssert.AreEqual(new[] { ImageLabels.Created, ImageLabels.Key, ImageLabels.Inputs }, bare);
        }

        [TestMethod]
        public void InspectLabels_AndImageConfigs_Parse()
        {
            Assert.IsNull(EcrCache.Keys.Explain.ImageExplainer.ParseInspectLabels(new ProcessResult(1, "", "No such image")));
            Assert.AreEqual(0, EcrCache.Keys.Explain.ImageExplainer.ParseInspectLabels(new ProcessResult(0, "null\n", ""))!.Count);
            Assert.AreEqual("k", EcrCache.Keys.Explain.ImageExplainer.ParseInspectLabels(new ProcessResult(0, "{\"io.ecrcache.key\":\"k\"}\n", ""))![ImageLabels.Key]);

            var (created, labels) = ImageConfigs.ParseConfig(Encoding.UTF8.GetBytes("{\"created\":\"2026-12-04T11:00:00.123456789Z\",\"config\":{\"Labels\":{\"a\":\"b\"}}}"));
            Assert.AreEqual(new DateTime(2026, 12, 4, 11, 0, 0, DateTimeKind.Utc), created!.Value.AddTicks(-(created.Value.Ticks % TimeSpan.TicksPerSecond)));
            Assert.AreEqual("b", labels["a"]);
            Assert.IsNull(ImageConfigs.ParseConfig(Encoding.UTF8.GetBytes("not json")).Created);
            CollectionAssert.AreEqual(new[] { "a", "b" }, RepositoryOperations.ParseTags(Encoding.UTF8.GetBytes("{\"name\":\"x\",\"tags\":[\"a\",\"b\"]}")).ToArray());
            Assert.AreEqual(0, RepositoryOperations.ParseTags(Encoding.UTF8.GetBytes("{\"name\":\"x\",\"tags\":null}")).Count);
        }

        /// <summary>A runner for code that must cope with no program at all (git missing): every start fails.</summary>
        private sealed class NoProcesses : IProcessRunner
        {
            public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken) =>
                throw new ProcessStartException(spec.FileName, new FileNotFoundException("not here"));
        }
    }
}
