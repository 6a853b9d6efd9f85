using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Sdk
{
    /// <summary>
    /// Evaluates and builds projects that import src/EcrCache.Sdk/Sdk/Sdk.props and Sdk.targets by path, with the .NET
    /// SDK's MSBuild loaded in this process through Microsoft.Build.Locator. MSBuild types are only used inside
    /// <see cref="SdkHarness"/>, after <see cref="MSBuildSetup.EnsureRegistered"/>.
    /// </summary>
    [TestClass]
    public sealed class SdkEvaluationTests
    {
        private const string SkipMessage = "EcrCache: skipped in a design-time build.";

        private string _dir = "";

        [ClassInitialize]
        public static void RegisterMSBuild(TestContext context) => MSBuildSetup.EnsureRegistered();

        [TestInitialize]
        public void SetUp() => _dir = TestPaths.NewTempDirectory("ecrcache-sdk");

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

        /// <summary>Global properties that hide any BUILDKITE_* of the machine running the tests (environment variables are properties too).</summary>
        private static Dictionary<string, string> NoBuildkite(params (string Key, string Value)[] extra)
        {
            var globals = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["BUILDKITE_ORGANIZATION_SLUG"] = "",
                ["BUILDKITE_PIPELINE_SLUG"] = "",
            };
            foreach (var (key, value) in extra)
            {
                globals[key] = value;
            }

            return globals;
        }

        private string Project(string body = "", string afterTargets = "", string name = "MyImage.proj") =>
            SdkHarness.WriteProject(_dir, name, body, afterTargets);

        private string Dir(params string[] parts) => Path.Combine(new[] { _dir }.Concat(parts).ToArray());

        // ---------------------------------------------------------------- defaults

        [TestMethod]
        public void Defaults()
        {
            var values = SdkHarness.Evaluate(
                Project(),
                NoBuildkite(),
                "EcrCacheSdkImported", "EcrCacheEnabled", "EcrCacheProvider", "EcrCachePushLatest", "EcrCacheSkipPull", "EcrCacheRegistryInsecure",
                "EcrCacheExportEnvVariable", "EcrCacheDockerPath", "EcrCacheBuildkiteAgentPath", "EcrCacheEnsureOnBuild", "EcrCacheRepository",
                "EcrCacheIntermediateOutputPath", "EcrCacheEnvFile", "EcrCacheDockerfile", "EcrCacheDockerfileInline", "EcrCacheTasksAssembly",
                "_EcrCacheIsDesignTime", "_EcrCacheStandalone", "MSBuildRuntimeType", "EcrCacheRegistry");
            Assert.AreEqual("true", values["EcrCacheSdkImported"]);
            Assert.AreEqual("true", values["EcrCacheEnabled"]);
            Assert.AreEqual("local", values["EcrCacheProvider"]);
            Assert.AreEqual("true", values["EcrCachePushLatest"]);
            Assert.AreEqual("false", values["EcrCacheSkipPull"]);
            Assert.AreEqual("false", values["EcrCacheRegistryInsecure"]);
            Assert.AreEqual("BUILDKITE_PLUGIN_DOCKER_IMAGE", values["EcrCacheExportEnvVariable"]);
            Assert.AreEqual("docker", values["EcrCacheDockerPath"]);
            Assert.AreEqual("buildkite-agent", values["EcrCacheBuildkiteAgentPath"]);
            Assert.AreEqual("false", values["EcrCacheEnsureOnBuild"]);
            Assert.AreEqual("", values["EcrCacheRegistry"]);
            Assert.AreEqual("build-cache/myimage", values["EcrCacheRepository"]);
            Assert.AreEqual(Dir("obj", "ecrcache") + "/", values["EcrCacheIntermediateOutputPath"]);
            Assert.AreEqual(Dir("obj", "ecrcache", "image.env"), values["EcrCacheEnvFile"]);
            Assert.AreEqual(Dir("Dockerfile"), values["EcrCacheDockerfile"]);
            Assert.AreEqual("", values["EcrCacheDockerfileInline"]);
            Assert.AreEqual("Core", values["MSBuildRuntimeType"]);
            StringAssert.EndsWith(values["EcrCacheTasksAssembly"], "tasks/net8.0/EcrCache.Tasks.dll");
            StringAssert.StartsWith(values["EcrCacheTasksAssembly"], SdkHarness.SdkDirectory);
            Assert.AreEqual("", values["_EcrCacheIsDesignTime"]);
            Assert.AreEqual("true", values["_EcrCacheStandalone"]);
        }

        [TestMethod]
        public void Repository_FromBuildkiteSlugs_WhenBothAreSet()
        {
            var globals = NoBuildkite(("BUILDKITE_ORGANIZATION_SLUG", "acme"), ("BUILDKITE_PIPELINE_SLUG", "web-app"));
            Assert.AreEqual("build-cache/acme/web-app", SdkHarness.Evaluate(Project(), globals, "EcrCacheRepository")["EcrCacheRepository"]);
        }

        [TestMethod]
        [DataRow("acme", "")]
        [DataRow("", "web-app")]
        public void Repository_FromTheLowerCasedProjectName_WhenASlugIsMissing(string org, string pipeline)
        {
            var globals = NoBuildkite(("BUILDKITE_ORGANIZATION_SLUG", org), ("BUILDKITE_PIPELINE_SLUG", pipeline));
            Assert.AreEqual("build-cache/camelcase.image", SdkHarness.Evaluate(Project(name: "CamelCase.Image.proj"), globals, "EcrCacheRepository")["EcrCacheRepository"]);
        }

        [TestMethod]
        public void Dockerfile_HasNoDefault_WhenInlineIsSet()
        {
            var project = Project("  <PropertyGroup><EcrCacheDockerfileInline>FROM busybox</EcrCacheDockerfileInline></PropertyGroup>");
            var values = SdkHarness.Evaluate(project, NoBuildkite(), "EcrCacheDockerfile", "EcrCacheDockerfileInline");
            Assert.AreEqual("", values["EcrCacheDockerfile"]);
            Assert.AreEqual("FROM busybox", values["EcrCacheDockerfileInline"]);
        }

        [TestMethod]
        public void IntermediatePath_FollowsBaseIntermediateOutputPath()
        {
            var values = SdkHarness.Evaluate(Project(), NoBuildkite(("BaseIntermediateOutputPath", "build/tmp/")), "EcrCacheIntermediateOutputPath", "EcrCacheEnvFile");
            Assert.AreEqual(Dir("build", "tmp", "ecrcache") + "/", values["EcrCacheIntermediateOutputPath"]);
            Assert.AreEqual(Dir("build", "tmp", "ecrcache", "image.env"), values["EcrCacheEnvFile"]);
        }

        [TestMethod]
        [DataRow("DesignTimeBuild", "true", "true")]
        [DataRow("DesignTimeBuild", "false", "")]
        public void DesignTime_IsDetected(string property, string value, string expected)
        {
            Assert.AreEqual(expected, SdkHarness.Evaluate(Project(), NoBuildkite((property, value)), "_EcrCacheIsDesignTime")["_EcrCacheIsDesignTime"]);
        }

        [TestMethod]
        public void DesignTime_VisualStudioNotBuildingProject()
        {
            var globals = NoBuildkite(("BuildingInsideVisualStudio", "true"), ("BuildingProject", "false"));
            Assert.AreEqual("true", SdkHarness.Evaluate(Project(), globals, "_EcrCacheIsDesignTime")["_EcrCacheIsDesignTime"]);
            globals["BuildingProject"] = "true";
            Assert.AreEqual("", SdkHarness.Evaluate(Project(), globals, "_EcrCacheIsDesignTime")["_EcrCacheIsDesignTime"]);
        }

        // ---------------------------------------------------------------- every task invocation gets every input

        [TestMethod]
        public void EveryTaskInvocation_PassesEveryInputOfTheTask()
        {
            // The three targets (ensure, key only, explain) must parse the same options: a property missing from one
            // of them made ExplainCachedImageKey fail for gar (EcrCacheGcpProject was not passed) while the others worked.
            var inputs = TaskInputs();
            Assert.IsTrue(inputs.Count >= 40, string.Join(", ", inputs));
            var invocations = XDocument.Load(SdkHarness.SdkTargets).Descendants()
                .Where(e => e.Name.LocalName == "EnsureCachedImage").ToList();
            Assert.AreEqual(3, invocations.Count, "expected the ensure, key-only and explain invocations");
            foreach (var invocation in invocations)
            {
                var passed = new HashSet<string>(invocation.Attributes().Select(a => a.Name.LocalName), StringComparer.Ordinal);
                var missing = inputs.Where(i => !passed.Contains(i)).ToList();
                var mode = (string?)invocation.Attribute("KeyOnly") != null ? "KeyOnly" : (string?)invocation.Attribute("Explain") != null ? "Explain" : "Ensure";
                Assert.AreEqual(0, missing.Count, mode + " invocation does not pass: " + string.Join(", ", missing));
                var unknown = passed.Where(p => p != "KeyOnly" && p != "Explain" && p != "Condition" && !inputs.Contains(p)).ToList();
                Assert.AreEqual(0, unknown.Count, mode + " invocation passes parameters the task does not have: " + string.Join(", ", unknown));
            }
        }

        /// <summary>Settable, non-mode parameters of the task (read after MSBuild is registered, hence not inlined).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static HashSet<string> TaskInputs() =>
            new HashSet<string>(
                typeof(EcrCache.Tasks.EnsureCachedImage).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly)
                    .Where(p => p.SetMethod != null && p.SetMethod.IsPublic && p.Name != "KeyOnly" && p.Name != "Explain")
                    .Select(p => p.Name),
                StringComparer.Ordinal);

        // ---------------------------------------------------------------- every default is guarded

        /// <summary>Every EcrCache* property Sdk.targets and EcrCache.Standalone.targets define, read from their XML.</summary>
        private static IReadOnlyList<(string Name, string? Condition)> DefinedProperties()
        {
            var result = new List<(string, string?)>();
            foreach (var file in new[] { SdkHarness.SdkTargets, SdkHarness.StandaloneTargets })
            {
                var doc = XDocument.Load(file);
                foreach (var element in doc.Root!.Elements().Where(e => e.Name.LocalName == "PropertyGroup").SelectMany(g => g.Elements()))
                {
                    if (element.Name.LocalName.StartsWith("EcrCache", StringComparison.Ordinal))
                    {
                        result.Add((element.Name.LocalName, (string?)element.Attribute("Condition")));
                    }
                }
            }

            return result;
        }

        [TestMethod]
        public void EveryDefault_IsGuardedInTheXml()
        {
            var defined = DefinedProperties();
            Assert.IsTrue(defined.Select(d => d.Name).Distinct().Count() >= 15, string.Join(", ", defined.Select(d => d.Name)));
            foreach (var (name, condition) in defined)
            {
                Assert.IsNotNull(condition, name + " has no Condition");
                StringAssert.Contains(condition, "'$(" + name + ")' == ''", name + " is not guarded by its own emptiness: " + condition);
            }
        }

        [TestMethod]
        public void EveryDefault_KeepsAValueSetInTheProject()
        {
            var names = DefinedProperties().Select(d => d.Name).Distinct().ToList();
            var failures = new List<string>();
            foreach (var name in names)
            {
                var sentinel = "sentinel-" + name.ToLowerInvariant();
                var project = Project($"  <PropertyGroup><{name}>{sentinel}</{name}></PropertyGroup>", name: "Guard" + name + ".proj");
                var actual = SdkHarness.Evaluate(project, NoBuildkite(), name)[name];
                if (actual != sentinel)
                {
                    failures.Add($"{name}: set to '{sentinel}' in the project, evaluated to '{actual}'");
                }
            }

            Assert.AreEqual(0, failures.Count, string.Join("\n", failures));
        }

        [TestMethod]
        public void EveryDefault_KeepsAValueGivenOnTheCommandLine()
        {
            var names = DefinedProperties().Select(d => d.Name).Distinct().ToList();
            var globals = NoBuildkite();
            foreach (var name in names)
            {
                globals[name] = "global-" + name.ToLowerInvariant();
            }

            var values = SdkHarness.Evaluate(Project(), globals, names.ToArray());
            foreach (var name in names)
            {
                Assert.AreEqual("global-" + name.ToLowerInvariant(), values[name], name);
            }
        }

        [TestMethod]
        public void AllDefaultsSetTogether_AreAllKept()
        {
            var names = DefinedProperties().Select(d => d.Name).Distinct().ToList();
            var body = "  <PropertyGroup>\n" + string.Concat(names.Select(n => $"    <{n}>set-{n.ToLowerInvariant()}</{n}>\n")) + "  </PropertyGroup>";
            var values = SdkHarness.Evaluate(Project(body), NoBuildkite(), names.ToArray());
            foreach (var name in names)
            {
                Assert.AreEqual("set-" + name.ToLowerInvariant(), values[name], name);
            }
        }

        // ---------------------------------------------------------------- defaults the task must not warn about

        [TestMethod]
        public void SdkDefaults_ListsTheProviderOptionsSdkTargetsDefaulted_OnlyWhenTheProjectLeftThemEmpty()
        {
            // The task warns about a provider-specific option (ECRC1029) only when the user set it, and ECRC1030 says
            // whether EcrCacheProvider=local was chosen: every such option Sdk.targets gives a default must be named in
            // _EcrCacheSdkDefaults. EcrCacheRegistry is left out: Sdk.targets only copies the user's EcrCacheRegistryHostname.
            var defined = DefinedProperties().Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
            var tracked = ProviderOptionNames().Append("EcrCacheProvider")
                .Where(n => defined.Contains(n) && n != "EcrCacheRegistry").OrderBy(n => n, StringComparer.Ordinal).ToList();
            CollectionAssert.IsSubsetOf(new[] { "EcrCacheMaxAgeDays", "EcrCacheProvider", "EcrCacheSkipPull" }, tracked);

            var left = SdkHarness.Evaluate(Project(), NoBuildkite(), "_EcrCacheSdkDefaults", "EcrCacheWarnOnLocalInBuildkite");
            CollectionAssert.AreEqual(tracked, SplitNames(left["_EcrCacheSdkDefaults"]), "with nothing set: " + left["_EcrCacheSdkDefaults"]);
            Assert.AreEqual("true", left["EcrCacheWarnOnLocalInBuildkite"]);

            var body = "  <PropertyGroup>\n" + string.Concat(tracked.Select(n => $"    <{n}>x</{n}>\n")) + "  </PropertyGroup>";
            Assert.AreEqual("", SdkHarness.Evaluate(Project(body), NoBuildkite(), "_EcrCacheSdkDefaults")["_EcrCacheSdkDefaults"], "every option set in the project");
            var globals = NoBuildkite(("EcrCacheMaxAgeDays", "14"));
            CollectionAssert.DoesNotContain(SplitNames(SdkHarness.Evaluate(Project(), globals, "_EcrCacheSdkDefaults")["_EcrCacheSdkDefaults"]), "EcrCacheMaxAgeDays", "set on the command line");
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static IEnumerable<string> ProviderOptionNames() => EcrCache.Core.ProviderOptions.Rows.Select(r => r.Property).ToList();

        private static List<string> SplitNames(string value) =>
            value.Split(';', StringSplitOptions.RemoveEmptyEntries).OrderBy(n => n, StringComparer.Ordinal).ToList();

        // ---------------------------------------------------------------- targets

        [TestMethod]
        public void Targets_Exist()
        {
            var targets = SdkHarness.Targets(Project(), NoBuildkite());
            foreach (var name in new[] { "EnsureCachedImage", "ComputeCachedImageKey", "EcrCacheClean", "_EcrCacheEnsure", "_EcrCacheComputeKey", "_EcrCacheCheckDesignTime", "_EcrCacheEnsureOnBuild" })
            {
                Assert.IsTrue(targets.ContainsKey(name), name + " is missing; have " + string.Join(", ", targets.Keys));
            }

            Assert.AreEqual("$(EnsureCachedImageDependsOn)", targets["EnsureCachedImage"]);
            Assert.AreEqual("$(ComputeCachedImageKeyDependsOn)", targets["ComputeCachedImageKey"]);
        }

        [TestMethod]
        public void EnsureCachedImageDependsOn_IsExtendable_BeforeAndAfterTheImport()
        {
            var project = Project(
                "  <PropertyGroup><EnsureCachedImageDependsOn>MyBefore</EnsureCachedImageDependsOn></PropertyGroup>",
                @"  <PropertyGroup><EnsureCachedImageDependsOn>$(EnsureCachedImageDependsOn);MyAfter</EnsureCachedImageDependsOn></PropertyGroup>
  <Target Name=""MyBefore""><Message Importance=""high"" Text=""ran MyBefore"" /></Target>
  <Target Name=""MyAfter""><Message Importance=""high"" Text=""ran MyAfter"" /></Target>");
            Assert.AreEqual(
                "MyBefore;_EcrCacheCheckDesignTime;_EcrCacheEnsure;MyAfter",
                SdkHarness.Evaluate(project, NoBuildkite(), "EnsureCachedImageDependsOn")["EnsureCachedImageDependsOn"]);

            var outcome = SdkHarness.Build(project, NoBuildkite(("DesignTimeBuild", "true")), new[] { "EnsureCachedImage" });
            Assert.IsTrue(outcome.Success, outcome.Log);
            var order = outcome.TargetsRun;
            Assert.IsTrue(order.IndexOf("MyBefore") >= 0 && order.IndexOf("MyBefore") < order.IndexOf("_EcrCacheCheckDesignTime"), string.Join(",", order));
            Assert.IsTrue(order.IndexOf("MyAfter") > order.IndexOf("_EcrCacheCheckDesignTime"), string.Join(",", order));
            CollectionAssert.Contains(outcome.Messages, "ran MyBefore");
            CollectionAssert.Contains(outcome.Messages, "ran MyAfter");
        }

        [TestMethod]
        public void Standalone_GetsRestoreBuildCleanRebuild()
        {
            var targets = SdkHarness.Targets(Project(), NoBuildkite());
            foreach (var name in new[] { "Restore", "Build", "Clean", "Rebuild", "_IsProjectRestoreSupported", "_EcrCacheStandaloneBuild" })
            {
                Assert.IsTrue(targets.ContainsKey(name), name + " is missing");
            }

            Assert.AreEqual("_EcrCacheStandaloneBuild", targets["Build"]);
            Assert.AreEqual("Clean;Build", targets["Rebuild"]);
            Assert.AreEqual("true", SdkHarness.Evaluate(Project(), NoBuildkite(), "EcrCacheBuildEnsures")["EcrCacheBuildEnsures"]);
        }

        [TestMethod]
        public void Standalone_RestoreIsANoOp_BuildEnsures_CleanRemovesTheIntermediateFolder()
        {
            var project = Project();
            var restore = SdkHarness.Build(project, NoBuildkite(), new[] { "Restore" });
            Assert.IsTrue(restore.Success, restore.Log);

            // Build ensures the image (design-time here, so it stops at the skip message).
            var build = SdkHarness.Build(project, NoBuildkite(("DesignTimeBuild", "true")), new[] { "Build" });
            Assert.IsTrue(build.Success, build.Log);
            CollectionAssert.Contains(build.TargetsRun, "EnsureCachedImage");
            CollectionAssert.Contains(build.Messages, SkipMessage);

            var intermediate = Dir("obj", "ecrcache");
            Directory.CreateDirectory(intermediate);
            File.WriteAllText(Path.Combine(intermediate, "key.txt"), "x\n");
            var clean = SdkHarness.Build(project, NoBuildkite(), new[] { "Clean" });
            Assert.IsTrue(clean.Success, clean.Log);
            CollectionAssert.Contains(clean.TargetsRun, "EcrCacheClean");
            Assert.IsFalse(Directory.Exists(intermediate));
        }

        [TestMethod]
        public void Standalone_BuildEnsuresCanBeTurnedOff()
        {
            var build = SdkHarness.Build(Project(), NoBuildkite(("EcrCacheBuildEnsures", "false"), ("EcrCacheDockerPath", "/nonexistent/docker")), new[] { "Build" });
            Assert.IsTrue(build.Success, build.Log);
            CollectionAssert.DoesNotContain(build.TargetsRun, "EnsureCachedImage");
        }

        [TestMethod]
        public void Standalone_ImportsDirectoryBuildPropsAndTargets_LikeMicrosoftCommonProps()
        {
            File.WriteAllText(Dir("Directory.Build.props"), @"<Project>
  <PropertyGroup>
    <EcrCacheProvider>registry</EcrCacheProvider>
    <BaseIntermediateOutputPath>out/</BaseIntermediateOutputPath>
  </PropertyGroup>
</Project>");
            File.WriteAllText(Dir("Directory.Build.targets"), @"<Project>
  <PropertyGroup><FromDirectoryBuildTargets>$(EcrCacheProvider)</FromDirectoryBuildTargets></PropertyGroup>
  <Target Name=""FromDirectoryBuildTargets"" />
</Project>");
            Directory.CreateDirectory(Dir("images", "app"));
            var project = SdkHarness.WriteProject(Dir("images", "app"), "App.proj", "");
            var values = SdkHarness.Evaluate(project, NoBuildkite(), "EcrCacheProvider", "EcrCacheIntermediateOutputPath", "FromDirectoryBuildTargets");
            Assert.AreEqual("registry", values["EcrCacheProvider"], "Directory.Build.props sets a default before Sdk.targets applies its own");
            Assert.AreEqual(Dir("images", "app", "out", "ecrcache") + "/", values["EcrCacheIntermediateOutputPath"]);
            Assert.AreEqual("registry", values["FromDirectoryBuildTargets"]);
            Assert.IsTrue(SdkHarness.Targets(project, NoBuildkite()).ContainsKey("FromDirectoryBuildTargets"));

            var off = SdkHarness.Evaluate(
                project,
                NoBuildkite(("ImportDirectoryBuildProps", "false"), ("ImportDirectoryBuildTargets", "false")),
                "EcrCacheProvider", "FromDirectoryBuildTargets");
            Assert.AreEqual("local", off["EcrCacheProvider"]);
            Assert.AreEqual("", off["FromDirectoryBuildTargets"]);
        }

        [TestMethod]
        public void InsideMicrosoftNetSdk_IsNotStandalone()
        {
            var path = Path.Combine(_dir, "Lib.csproj");
            File.WriteAllText(path, $@"<Project Sdk=""Microsoft.NET.Sdk"">
  <Import Project=""{SdkHarness.SdkProps}"" />
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <Import Project=""{SdkHarness.SdkTargets}"" />
</Project>
");
            var values = SdkHarness.Evaluate(path, NoBuildkite(), "_EcrCacheStandalone", "EcrCacheBuildEnsures", "EcrCacheIntermediateOutputPath", "EcrCacheRepository", "UsingMicrosoftNETSdk");
            Assert.AreEqual("true", values["UsingMicrosoftNETSdk"]);
            Assert.AreEqual("", values["_EcrCacheStandalone"]);
            Assert.AreEqual("", values["EcrCacheBuildEnsures"], "the standalone targets are not imported");
            Assert.AreEqual(Dir("obj", "ecrcache") + "/", values["EcrCacheIntermediateOutputPath"]);
            Assert.AreEqual("build-cache/lib", values["EcrCacheRepository"]);
            var targets = SdkHarness.Targets(path, NoBuildkite());
            Assert.AreNotEqual("_EcrCacheStandaloneBuild", targets["Build"], "Build comes from Microsoft.Common.targets");
            Assert.IsTrue(targets.ContainsKey("EnsureCachedImage"));
        }

        // ---------------------------------------------------------------- building in-process with the task

        [TestMethod]
        public void DesignTimeBuild_Succeeds_LogsTheSkip_AndRunsNoDocker()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            var globals = NoBuildkite(
                ("DesignTimeBuild", "true"),
                ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly),
                ("EcrCacheDockerPath", "/nonexistent/docker")); // any docker call would fail with ECRC1201
            foreach (var target in new[] { "EnsureCachedImage", "ComputeCachedImageKey" })
            {
                var outcome = SdkHarness.Build(Project(), globals, new[] { target }, "EcrCacheImageReference", "EcrCacheKey");
                Assert.IsTrue(outcome.Success, outcome.Log);
                Assert.AreEqual(0, outcome.Errors.Count + outcome.Warnings.Count, outcome.Log);
                CollectionAssert.Contains(outcome.Messages, SkipMessage, outcome.Log);
                CollectionAssert.DoesNotContain(outcome.TargetsRun, "_EcrCacheEnsure");
                CollectionAssert.DoesNotContain(outcome.TargetsRun, "_EcrCacheComputeKey");
                Assert.AreEqual("", outcome.Properties["EcrCacheImageReference"]);
                Assert.AreEqual("", outcome.Properties["EcrCacheKey"]);
            }

            Assert.IsFalse(File.Exists(Dir("obj", "ecrcache", "ensured.json")));
            Assert.IsFalse(File.Exists(Dir("obj", "ecrcache", "key.txt")));
        }

        [TestMethod]
        public void Disabled_Succeeds_AndSaysSo()
        {
            var globals = NoBuildkite(("EcrCacheEnabled", "false"), ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", "/nonexistent/docker"));
            var outcome = SdkHarness.Build(Project(), globals, new[] { "EnsureCachedImage" });
            Assert.IsTrue(outcome.Success, outcome.Log);
            CollectionAssert.Contains(outcome.Messages, "EcrCache: disabled (EcrCacheEnabled=false).");
            CollectionAssert.DoesNotContain(outcome.TargetsRun, "_EcrCacheEnsure");
        }

        [TestMethod]
        public void UnknownProvider_FailsWithECRC1008_OnTheProjectFile()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            var project = Project();
            var globals = NoBuildkite(("EcrCacheProvider", "nope"), ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", "/nonexistent/docker"));
            var outcome = SdkHarness.Build(project, globals, new[] { "EnsureCachedImage" });
            Assert.IsFalse(outcome.Success, outcome.Log);
            var error = outcome.Errors.Single();
            Assert.AreEqual("ECRC1008", error.Code, outcome.Log);
            StringAssert.Contains(error.Message, "'nope'");
            Assert.AreEqual(project, error.File);
            CollectionAssert.Contains(outcome.TargetsRun, "_EcrCacheEnsure");
        }

        [TestMethod]
        public void MissingDocker_FailsWithECRC1201_ForBothTargets()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            File.WriteAllText(Dir("package.json"), "{}");
            var project = Project("  <ItemGroup><CacheOn Include=\"package.json\" /></ItemGroup>");
            var globals = NoBuildkite(("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", Dir("no-docker")));
            foreach (var target in new[] { "EnsureCachedImage", "ComputeCachedImageKey" })
            {
                var outcome = SdkHarness.Build(project, globals, new[] { target });
                Assert.IsFalse(outcome.Success, outcome.Log);
                Assert.AreEqual("ECRC1201", outcome.Errors.Single().Code, outcome.Log);
                Assert.AreEqual(0, outcome.Warnings.Count, outcome.Log);
            }
        }

        [TestMethod]
        public void TaskWarnings_CarryTheirCodes()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            var project = Project(@"  <ItemGroup>
    <CacheOn Include=""**/*.nomatch"" />
    <BuildArg Include=""ECRC_SDK_TEST_UNSET_ARG"" />
  </ItemGroup>");
            var globals = NoBuildkite(("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", Dir("no-docker")));
            var outcome = SdkHarness.Build(project, globals, new[] { "EnsureCachedImage" });
            CollectionAssert.AreEquivalent(new[] { "ECRC1004", "ECRC1104", "ECRC1106" }, outcome.Warnings.Select(w => w.Code).ToList(), outcome.Log);
            Assert.IsTrue(outcome.Warnings.All(w => w.File == project), outcome.Log);
            Assert.AreEqual("ECRC1201", outcome.Errors.Single().Code, outcome.Log);
        }

        [TestMethod]
        public void RealDocker_EnsureCachedImage_InProcess_BuildsThenHits_AndSetsOutputs()
        {
            RealDocker.Require();
            var repository = "build-cache/unit-sdk-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            try
            {
                File.WriteAllText(Dir("package.json"), "{\"name\":\"sdk\"}");
                var project = Project($@"  <PropertyGroup>
    <EcrCacheDockerfileInline>FROM {RealDocker.BaseImage}
LABEL org.ecrcache.test=sdk</EcrCacheDockerfileInline>
    <EcrCacheRepository>{repository}</EcrCacheRepository>
    <EcrCacheDockerPath>{RealDocker.Executable}</EcrCacheDockerPath>
  </PropertyGroup>
  <ItemGroup>
    <CacheOn Include=""*.json"" />
    <BuildArg Include=""ECRC_SDK_EMPTY"" Value="""" />
    <BuildArg Include=""ECRC_SDK_SET"" Value=""x"" />
  </ItemGroup>");
                var globals = NoBuildkite(("EcrCacheTasksAssembly", SdkHarness.TasksAssembly));
                var properties = new[] { "EcrCacheImage", "EcrCacheTag", "EcrCacheImageReference", "EcrCacheResult", "EcrCacheKey" };

                var first = SdkHarness.Build(project, globals, new[] { "EnsureCachedImage" }, properties);
                Assert.IsTrue(first.Success, first.Log);
                Assert.AreEqual(0, first.Warnings.Count, "an explicit Value=\"\" is not an unset build arg (ECRC1004): " + first.Log);
                Assert.AreEqual("built", first.Properties["EcrCacheResult"]);
                Assert.AreEqual(repository, first.Properties["EcrCacheImage"]);
                var reference = first.Properties["EcrCacheImageReference"];
                Assert.AreEqual(repository + ":" + first.Properties["EcrCacheTag"], reference);
                StringAssert.StartsWith(first.Properties["EcrCacheKey"], first.Properties["EcrCacheTag"]);
                CollectionAssert.AreEqual(new[] { reference }, first.TargetOutputs["EnsureCachedImage"], "the target returns the reference");
                Assert.IsTrue(RealDocker.ImageExists(reference));

                var second = SdkHarness.Build(project, globals, new[] { "EnsureCachedImage" }, properties);
                Assert.IsTrue(second.Success, second.Log);
                Assert.AreEqual("hit-local", second.Properties["EcrCacheResult"]);
                Assert.AreEqual(reference, second.Properties["EcrCacheImageReference"]);

                var key = SdkHarness.Build(project, globals, new[] { "ComputeCachedImageKey" }, properties);
                Assert.IsTrue(key.Success, key.Log);
                Assert.AreEqual(first.Properties["EcrCacheKey"], key.Properties["EcrCacheKey"]);
                CollectionAssert.AreEqual(new[] { first.Properties["EcrCacheKey"] }, key.TargetOutputs["ComputeCachedImageKey"]);
            }
            finally
            {
                RealDocker.RemoveRepository(repository);
            }
        }
    }
}
