using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Options
{
    /// <summary>
    /// Options that only some providers read (Core/ProviderOptions.cs): a malformed value is its coded error with any
    /// provider, a well-formed one set for a provider that ignores it is warning ECRC1029, and none for the providers
    /// that use it. Plus ECRC1030, the local provider in a Buildkite job. Each matrix runs over the whole table, so a
    /// row added there without a case here fails.
    /// </summary>
    [TestClass]
    public sealed class ProviderOptionsTests
    {
        [TestMethod]
        public void ProviderNames_FollowTheOrderOfProviderKind()
        {
            var kinds = Enum.GetValues(typeof(ProviderKind)).Cast<ProviderKind>().ToList();
            Assert.AreEqual(kinds.Count, StoreOptions.Providers.Length);
            foreach (var kind in kinds)
            {
                Assert.AreEqual(kind.ToString().ToLowerInvariant(), ProviderOptions.NameOf(kind));
            }
        }

        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-provider-options");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{}");
        }

        private static RawItem Tag(string key, string value) =>
            new RawItem(key, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Value"] = value });

        /// <summary>A malformed value per option, and the code it must give (the option's existing one).</summary>
        private static readonly Dictionary<string, (Action<RawOptions> Set, string Code)[]> Malformed = new(StringComparer.Ordinal)
        {
            ["EcrCacheRegistry"] = new (Action<RawOptions>, string)[] { (r => r["Registry"] = "https://registry.example.com", "ECRC1013") },
            ["EcrCacheRegistryInsecure"] = new (Action<RawOptions>, string)[] { (r => r["RegistryInsecure"] = "maybe", "ECRC1011") },
            ["EcrCacheSkipPull"] = new (Action<RawOptions>, string)[] { (r => r["SkipPull"] = "sometimes", "ECRC1011") },
            ["EcrCacheCacheFrom"] = new (Action<RawOptions>, string)[] { (r => r["CacheFrom"] = "repo:tag", "ECRC1022") },
            ["EcrCacheRegion"] = new (Action<RawOptions>, string)[] { (r => r["Region"] = "Europe West", "ECRC1512") },
            ["EcrCacheMaxAgeDays"] = new (Action<RawOptions>, string)[]
            {
                (r => r["MaxAgeDays"] = "abc", "ECRC1510"),
                (r => r["MaxAgeDays"] = "-4", "ECRC1510"),
                (r => r["MaxAgeDays"] = "99999", "ECRC1510"),
            },
            ["EcrCachePullAccounts"] = new (Action<RawOptions>, string)[] { (r => r["PullAccounts"] = "111122223333;12345", "ECRC1511") },
            ["EcrCacheEcrEndpoint"] = new (Action<RawOptions>, string)[] { (r => r["EcrEndpoint"] = "ftp://ecr.example.com", "ECRC1513") },
            ["EcrTag items"] = new (Action<RawOptions>, string)[] { (r => r.EcrTags.Add(Tag("aws:owner", "x")), "ECRC1514") },
            ["EcrCacheGcpProject"] = new (Action<RawOptions>, string)[] { (r => r["GcpProject"] = "My Project", "ECRC1602") },
            ["EcrCacheGarLocation"] = new (Action<RawOptions>, string)[] { (r => r["GarLocation"] = "europe west 1", "ECRC1603") },
            ["EcrCacheGarRepository"] = new (Action<RawOptions>, string)[] { (r => r["GarRepository"] = "Build_Cache", "ECRC1604") },
            ["EcrCacheGarEndpoint"] = new (Action<RawOptions>, string)[] { (r => r["GarEndpoint"] = "https://user:pw@example.com/", "ECRC1605") },
            ["EcrCacheS3Bucket"] = new (Action<RawOptions>, string)[] { (r => r["S3Bucket"] = "s3://my-bucket", "ECRC1701") },
            ["EcrCacheS3Prefix"] = new (Action<RawOptions>, string)[] { (r => r["S3Prefix"] = "team//app", "ECRC1702") },
            ["EcrCacheDirectoryMaxSizeMB"] = new (Action<RawOptions>, string)[]
            {
                (r => r["DirectoryMaxSizeMB"] = "lots", "ECRC1751"),
                (r => r["DirectoryMaxSizeMB"] = "-1", "ECRC1751"),
            },
            ["EcrCacheKeepCount"] = new (Action<RawOptions>, string)[]
            {
                (r => r["KeepCount"] = "0", "ECRC1060"),
                (r => r["KeepCount"] = "many", "ECRC1060"),
            },
            ["EcrCacheRegistryPrune"] = new (Action<RawOptions>, string)[] { (r => r["RegistryPrune"] = "weekly", "ECRC1011") },
            ["EcrCacheRegistryPruneGrace"] = new (Action<RawOptions>, string)[] { (r => r["RegistryPruneGrace"] = "an hour", "ECRC1062") },
        };

        /// <summary>Options with no malformed form: any folder name is a folder.</summary>
        private static readonly string[] NoMalformedForm = { "EcrCacheDirectory" };

        /// <summary>A well-formed value per option (valid for every provider that reads it).</summary>
        private static readonly Dictionary<string, Action<RawOptions>> WellFormed = new(StringComparer.Ordinal)
        {
            ["EcrCacheRegistry"] = r => r["Registry"] = "registry.example.com:5000",
            ["EcrCacheRegistryInsecure"] = r => r["RegistryInsecure"] = "true",
            ["EcrCacheSkipPull"] = r => r["SkipPull"] = "true",
            ["EcrCacheCacheFrom"] = r => r["CacheFrom"] = "main",
            ["EcrCacheRegion"] = r => r["Region"] = "eu-west-1",
            ["EcrCacheMaxAgeDays"] = r => r["MaxAgeDays"] = "14",
            ["EcrCachePullAccounts"] = r => r["PullAccounts"] = "111122223333",
            ["EcrCacheEcrEndpoint"] = r => r["EcrEndpoint"] = "http://127.0.0.1:5000",
            ["EcrTag items"] = r => r.EcrTags.Add(Tag("team", "platform")),
            ["EcrCacheGcpProject"] = r => r["GcpProject"] = "other-project",
            ["EcrCacheGarLocation"] = r => r["GarLocation"] = "europe-west1",
            ["EcrCacheGarRepository"] = r => r["GarRepository"] = "build-cache",
            ["EcrCacheGarEndpoint"] = r => r["GarEndpoint"] = "http://127.0.0.1:9/",
            ["EcrCacheS3Bucket"] = r => r["S3Bucket"] = "other-ci-cache",
            ["EcrCacheS3Prefix"] = r => r["S3Prefix"] = "team/app/",
            ["EcrCacheDirectory"] = r => r["CacheDirectory"] = "other-cache",
            ["EcrCacheDirectoryMaxSizeMB"] = r => r["DirectoryMaxSizeMB"] = "4096",
            ["EcrCacheKeepCount"] = r => r["KeepCount"] = "5",
            ["EcrCacheRegistryPrune"] = r => r["RegistryPrune"] = "false",
            ["EcrCacheRegistryPruneGrace"] = r => r["RegistryPruneGrace"] = "30",
        };

        /// <summary>A project that parses for <paramref name="provider"/>: its required options and nothing else.</summary>
        private RawOptions NewRaw(string? provider, Dictionary<string, string>? environment = null)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "provider-options",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM scratch\n",
                ["Repository"] = "build-cache/provider-options",
                ["Provider"] = provider,
                Environment = name => environment != null && environment.TryGetValue(name, out var value) ? value : null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            switch (provider)
            {
                case "registry":
                    raw["Registry"] = "127.0.0.1:5000";
                    break;
                case "gar":
                case "gcr":
                    raw["GcpProject"] = "my-project";
                    break;
                case "s3":
                    raw["S3Bucket"] = "my-ci-cache";
                    break;
                case "directory":
                    raw["CacheDirectory"] = "cache";
                    break;
            }

            return raw;
        }

        private static IEnumerable<Diagnostic> Ignored(CapturingBuildLog log) => log.Warnings.Where(w => w.Code == "ECRC1029");

        [TestMethod]
        public void TheTableNamesOnlyKnownProviders_AndLocalReadsNoneOfItsOptions()
        {
            foreach (var kind in Enum.GetValues<ProviderKind>())
            {
                CollectionAssert.Contains(StoreOptions.Providers.ToList(), ProviderOptions.NameOf(kind));
            }

            foreach (var row in ProviderOptions.Rows)
            {
                Assert.IsTrue(row.UsedBy.Length > 0, row.Property);
                foreach (var provider in row.UsedBy)
                {
                    CollectionAssert.Contains(StoreOptions.Providers.ToList(), provider, row.Property);
                }

                CollectionAssert.DoesNotContain(row.UsedBy, "local", row.Property + ": the local provider reads no provider-specific option");
            }
        }

        [TestMethod]
        public void EveryOptionMalformed_UnderLocal_IsItsCodedError()
        {
            var failures = new List<string>();
            foreach (var row in ProviderOptions.Rows)
            {
                if (!Malformed.TryGetValue(row.Property, out var cases))
                {
                    if (!NoMalformedForm.Contains(row.Property))
                    {
                        failures.Add(row.Property + ": no malformed case in this test");
                    }

                    continue;
                }

                foreach (var (set, code) in cases)
                {
                    var raw = NewRaw("local");
                    set(raw);
                    var log = new CapturingBuildLog();
                    try
                    {
                        OptionsParser.Parse(raw, log);
                        failures.Add($"{row.Property}: expected error {code}, parsed without one (warnings: {string.Join(", ", log.WarningCodes)})");
                    }
                    catch (EcrCacheException ex) when (ex.Diagnostic.Code != code)
                    {
                        failures.Add($"{row.Property}: expected {code}, got {ex.Diagnostic}");
                    }
                    catch (EcrCacheException)
                    {
                        if (Ignored(log).Any())
                        {
                            failures.Add(row.Property + ": a malformed value is an error, not also an ignored-option warning");
                        }
                    }
                }
            }

            Assert.AreEqual(0, failures.Count, string.Join("\n", failures));
        }

        [TestMethod]
        [DataRow("abc")]
        [DataRow("-4")]
        public void MaxAgeDaysMalformed_IsECRC1510_UnderRegistryToo(string value)
        {
            var raw = NewRaw("registry");
            raw["MaxAgeDays"] = value;
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual("ECRC1510", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'" + value + "'");
        }

        [TestMethod]
        public void EveryOptionWellFormed_UnderAProviderThatIgnoresIt_WarnsNamingItAndItsProviders()
        {
            var failures = new List<string>();
            foreach (var row in ProviderOptions.Rows)
            {
                Assert.IsTrue(WellFormed.ContainsKey(row.Property), row.Property + ": no well-formed case in this test");
                foreach (var provider in StoreOptions.Providers.Where(p => !row.UsedBy.Contains(p)))
                {
                    var raw = NewRaw(provider);
                    WellFormed[row.Property](raw);
                    var log = new CapturingBuildLog();
                    OptionsParser.Parse(raw, log);
                    var warnings = Ignored(log).ToList();
                    if (warnings.Count != 1)
                    {
                        failures.Add($"{row.Property} under {provider}: expected one ECRC1029, got {warnings.Count}: {string.Join(" | ", warnings)}");
                        continue;
                    }

                    var message = warnings[0].Message;
                    if (!message.StartsWith(row.Property + " is set, but EcrCacheProvider=" + provider + " ignores it", StringComparison.Ordinal)
                        || !row.UsedBy.All(message.Contains))
                    {
                        failures.Add($"{row.Property} under {provider}: the message does not name the option, the provider and its users: {message}");
                    }
                }
            }

            Assert.AreEqual(0, failures.Count, string.Join("\n", failures));
        }

        [TestMethod]
        public void EveryOptionWellFormed_UnderAProviderThatUsesIt_DoesNotWarn()
        {
            var failures = new List<string>();
            foreach (var row in ProviderOptions.Rows)
            {
                foreach (var provider in row.UsedBy)
                {
                    var raw = NewRaw(provider);
                    WellFormed[row.Property](raw);
                    var log = new CapturingBuildLog();
                    OptionsParser.Parse(raw, log);
                    if (Ignored(log).Any())
                    {
                        failures.Add($"{row.Property} under {provider}: {string.Join(" | ", Ignored(log))}");
                    }
                }
            }

            Assert.AreEqual(0, failures.Count, string.Join("\n", failures));
        }

        [TestMethod]
        public void S3BucketUnderRegistry_WarnsThatOnlyS3UsesIt()
        {
            var raw = NewRaw("registry");
            raw["S3Bucket"] = "my-ci-cache";
            var log = new CapturingBuildLog();
            OptionsParser.Parse(raw, log);
            var warning = Ignored(log).Single();
            Assert.AreEqual("EcrCacheS3Bucket is set, but EcrCacheProvider=registry ignores it; only s3 use it. Remove EcrCacheS3Bucket (from the project, Directory.Build.props, the command line or the environment), or set EcrCacheProvider to a provider that uses it.", warning.Message);
        }

        [TestMethod]
        [DataRow("registry")]
        [DataRow("local")]
        public void MaxAgeDaysUnderAProviderThatDoesNotExpire_SaysSo(string provider)
        {
            var raw = NewRaw(provider);
            raw["MaxAgeDays"] = "14";
            var log = new CapturingBuildLog();
            OptionsParser.Parse(raw, log);
            var message = Ignored(log).Single().Message;
            StringAssert.Contains(message, "EcrCacheMaxAgeDays is set, but EcrCacheProvider=" + provider + " ignores it (" + provider + " does not expire images); only ecr, gar, gcr, s3 and directory use it.");
        }

        [TestMethod]
        [DataRow("local")]
        [DataRow("registry")]
        public void DefaultsThatSdkTargetsApplied_DoNotWarn(string provider)
        {
            // What Sdk.targets passes when the project sets none of them: the values, and their names in SdkDefaults.
            void Defaults(RawOptions r)
            {
                r["MaxAgeDays"] = "7";
                r["SkipPull"] = "false";
                r["RegistryInsecure"] = "false";
                r["DirectoryMaxSizeMB"] = "0";
            }

            var defaulted = NewRaw(provider);
            Defaults(defaulted);
            defaulted["SdkDefaults"] = ";EcrCacheProvider;EcrCacheSkipPull;EcrCacheRegistryInsecure;EcrCacheMaxAgeDays;EcrCacheDirectoryMaxSizeMB";
            var log = new CapturingBuildLog();
            OptionsParser.Parse(defaulted, log);
            Assert.AreEqual(0, Ignored(log).Count(), string.Join(" | ", Ignored(log)));

            // The same values written by the user are choices, and are warned about.
            var chosen = NewRaw(provider);
            Defaults(chosen);
            var chosenLog = new CapturingBuildLog();
            OptionsParser.Parse(chosen, chosenLog);
            var names = Ignored(chosenLog).Select(w => w.Message.Split(' ')[0]).OrderBy(n => n, StringComparer.Ordinal).ToList();
            var expected = provider == "local"
                ? new[] { "EcrCacheDirectoryMaxSizeMB", "EcrCacheMaxAgeDays", "EcrCacheRegistryInsecure", "EcrCacheSkipPull" }
                : new[] { "EcrCacheDirectoryMaxSizeMB", "EcrCacheMaxAgeDays" };
            CollectionAssert.AreEqual(expected, names);
        }

        [TestMethod]
        public void ADefaultIsStillValidated()
        {
            var raw = NewRaw("registry");
            raw["MaxAgeDays"] = "seven";
            raw["SdkDefaults"] = "EcrCacheMaxAgeDays";
            Assert.AreEqual("ECRC1510", Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog())).Diagnostic.Code);
        }

        // ---------------------------------------------------------------- ECRC1030: local inside a Buildkite job

        private static Dictionary<string, string> Buildkite() => new(StringComparer.Ordinal) { ["BUILDKITE"] = "true" };

        [TestMethod]
        public void LocalByDefault_InBuildkite_WarnsAndSaysItIsTheDefault()
        {
            foreach (var raw in new[] { NewRaw(null, Buildkite()), WithSdkDefaults(NewRaw("local", Buildkite()), "EcrCacheProvider") })
            {
                var options = OptionsParser.Parse(raw, new CapturingBuildLog());
                var warning = ProviderOptions.LocalInBuildkiteWarning(options);
                Assert.IsNotNull(warning);
                Assert.AreEqual("ECRC1030", warning.Code);
                StringAssert.Contains(warning.Message, "EcrCacheProvider=local (the default: EcrCacheProvider is not set)");
                StringAssert.Contains(warning.Message, "Set EcrCacheProvider to a shared store (ecr, gar, gcr, registry, s3 or directory)");
                StringAssert.Contains(warning.Message, "EcrCacheWarnOnLocalInBuildkite=false");
            }
        }

        [TestMethod]
        public void LocalSetExplicitly_InBuildkite_StillWarns_WithoutCallingItTheDefault()
        {
            var options = OptionsParser.Parse(NewRaw("local", Buildkite()), new CapturingBuildLog());
            var warning = ProviderOptions.LocalInBuildkiteWarning(options);
            Assert.IsNotNull(warning);
            StringAssert.Contains(warning.Message, "with EcrCacheProvider=local, so the image is cached only in this agent's Docker daemon");
            Assert.IsFalse(warning.Message.Contains("the default", StringComparison.Ordinal), warning.Message);
        }

        [TestMethod]
        [DataRow("false")]
        [DataRow("0")]
        [DataRow("OFF")]
        public void LocalInBuildkite_TurnedOff_DoesNotWarn(string value)
        {
            var raw = NewRaw(null, Buildkite());
            raw["WarnOnLocalInBuildkite"] = value;
            Assert.IsNull(ProviderOptions.LocalInBuildkiteWarning(OptionsParser.Parse(raw, new CapturingBuildLog())));
        }

        [TestMethod]
        public void NotInBuildkite_OrAnotherProvider_DoesNotWarn()
        {
            Assert.IsNull(ProviderOptions.LocalInBuildkiteWarning(OptionsParser.Parse(NewRaw(null), new CapturingBuildLog())));
            Assert.IsNull(ProviderOptions.LocalInBuildkiteWarning(OptionsParser.Parse(NewRaw(null, new Dictionary<string, string> { ["BUILDKITE"] = "false" }), new CapturingBuildLog())));
            foreach (var provider in StoreOptions.Providers.Where(p => p != "local"))
            {
                Assert.IsNull(ProviderOptions.LocalInBuildkiteWarning(OptionsParser.Parse(NewRaw(provider, Buildkite()), new CapturingBuildLog())), provider);
            }
        }

        [TestMethod]
        [DataRow(null)]
        [DataRow("ecr")]
        public void WarnOnLocalInBuildkite_NotABoolean_IsECRC1011_WhateverTheProvider(string? provider)
        {
            var raw = NewRaw(provider);
            raw["WarnOnLocalInBuildkite"] = "sometimes";
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual("ECRC1011", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "EcrCacheWarnOnLocalInBuildkite");
        }

        private static RawOptions WithSdkDefaults(RawOptions raw, string defaults)
        {
            raw["SdkDefaults"] = defaults;
            return raw;
        }
    }
}
