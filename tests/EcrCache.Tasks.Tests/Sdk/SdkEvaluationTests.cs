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
        internal static Dictionary<string, string> NoBuildkite(params (string Key, string Value)[] extra)
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
        public void TaskAssembly_IsTheNet10BuildOnDotNet10_WhenThePackageHasIt()
        {
            // The package's layout: Sdk/ beside tasks/<framework>/. Its net10.0 build carries ReadyToRun code that only
            // a .NET 10 runtime uses; without that folder (an older package layout) the net8.0 build is loaded.
            var package = Dir("package");
            Directory.CreateDirectory(Path.Combine(package, "Sdk"));
            foreach (var file in Directory.GetFiles(SdkHarness.SdkDirectory))
            {
                File.Copy(file, Path.Combine(package, "Sdk", Path.GetFileName(file)));
            }

            string Evaluate()
            {
                var project = Path.Combine(_dir, "Packaged.proj");
                File.WriteAllText(project, $@"<Project>
  <Import Project=""{Path.Combine(package, "Sdk", "Sdk.props")}"" />
  <Import Project=""{Path.Combine(package, "Sdk", "Sdk.targets")}"" />
</Project>
");
                return SdkHarness.Evaluate(project, NoBuildkite(), "EcrCacheTasksAssembly")["EcrCacheTasksAssembly"];
            }

            StringAssert.EndsWith(Evaluate(), "tasks/net8.0/EcrCache.Tasks.dll");

            Directory.CreateDirectory(Path.Combine(package, "tasks", "net10.0"));
            File.WriteAllText(Path.Combine(package, "tasks", "net10.0", "EcrCache.Tasks.dll"), "");
            var expected = Environment.Version.Major >= 10 ? "tasks/net10.0/EcrCache.Tasks.dll" : "tasks/net8.0/EcrCache.Tasks.dll";
            StringAssert.EndsWith(Evaluate(), expected);
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

        // ---------------------------------------------------------------- each step task is invoked once, with its parameters

        [TestMethod]
        public void EveryStepTask_IsInvokedOnce_WithExactlyItsParameters()
        {
            // Targets and tasks kept in step: a parameter a task declares but Sdk.targets does not pass is an option
            // that silently does nothing; one passed but not declared fails every build.
            var targets = XDocument.Load(SdkHarness.SdkTargets);
            var tasks = StepTasks();
            Assert.AreEqual(6, tasks.Count, string.Join(", ", tasks.Keys));
            foreach (var (name, inputs) in tasks)
            {
                var invocations = targets.Descendants().Where(e => e.Name.LocalName == name).ToList();
                Assert.AreEqual(1, invocations.Count, name + " must be invoked exactly once in Sdk.targets");
                var passed = new HashSet<string>(invocations[0].Attributes().Select(a => a.Name.LocalName), StringComparer.Ordinal);
                passed.Remove("Condition");
                var missing = inputs.Where(i => !passed.Contains(i)).ToList();
                Assert.AreEqual(0, missing.Count, name + " is not passed: " + string.Join(", ", missing));
                var unknown = passed.Where(p => !inputs.Contains(p)).ToList();
                Assert.AreEqual(0, unknown.Count, name + " is passed parameters it does not have: " + string.Join(", ", unknown));
                var usingTask = targets.Descendants().Where(e => e.Name.LocalName == "UsingTask" && (string?)e.Attribute("TaskName") == "EcrCache.Tasks." + name).ToList();
                Assert.AreEqual(1, usingTask.Count, name + " needs one UsingTask");
            }
        }

        [TestMethod]
        public void EveryStepParameter_IsReadByItsParser_AndEveryParserReadIsAParameter()
        {
            // The parsers read a task's string parameters by name (raw["LayerCache"]): a typo on either side would be
            // an option that is never read. Read every name the parsers use from their source, and compare.
            var parameters = StepTasks().SelectMany(t => StringParameterNames(t.Key)).ToHashSet(StringComparer.Ordinal);
            var source = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src", "EcrCache.Tasks"), "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .Select(File.ReadAllText);
            var reads = source.SelectMany(text => System.Text.RegularExpressions.Regex.Matches(text, "\\b(?:raw|r)\\[\"([A-Za-z0-9]+)\"\\]").Select(m => m.Groups[1].Value))
                .Concat(new[] { "SdkDefaults" }) // read through RawOptions.IsSdkDefault
                .ToHashSet(StringComparer.Ordinal);
            CollectionAssert.AreEquivalent(parameters.OrderBy(n => n).ToList(), reads.OrderBy(n => n).ToList(),
                "parameters never read: " + string.Join(", ", parameters.Except(reads)) + "; reads of no parameter: " + string.Join(", ", reads.Except(parameters)));
        }

        [TestMethod]
        public void AddingAProperty_CostsThreeEdits()
        {
            // EcrCacheLayerCache as the sample: its guarded default and its one task attribute (Sdk.targets), its task
            // parameter (ReadCachedImageOptions), its typed option and parser line (the concern's file in Options/).
            // Nothing copies it between the three.
            var src = Path.Combine(TestPaths.RepoRoot, "src");
            var mentions = new[] { "EcrCacheLayerCache", "raw[\"LayerCache\"]", "string? LayerCache {", "bool LayerCache {" };
            var files = Directory.EnumerateFiles(src, "*.*", SearchOption.AllDirectories)
                .Where(f => (f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".targets", StringComparison.Ordinal) || f.EndsWith(".props", StringComparison.Ordinal))
                    && !f.Contains(Path.DirectorySeparatorChar + "obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                    && !f.Contains(Path.DirectorySeparatorChar + "bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .Where(f => File.ReadLines(f).Where(IsCode).Any(line => mentions.Any(m => line.Contains(m, StringComparison.Ordinal))))
                .Select(f => Path.GetRelativePath(src, f).Replace('\\', '/'))
                .OrderBy(f => f, StringComparer.Ordinal)
                .ToList();
            CollectionAssert.AreEqual(
                new[] { "EcrCache.Sdk/Sdk/Sdk.targets", "EcrCache.Tasks/Options/BuildOptions.cs", "EcrCache.Tasks/Tasks/ReadCachedImageOptions.cs" },
                files,
                string.Join(", ", files));

            var targets = File.ReadAllText(SdkHarness.SdkTargets);
            Assert.AreEqual(1, System.Text.RegularExpressions.Regex.Matches(targets, "<EcrCacheLayerCache Condition=\"'\\$\\(EcrCacheLayerCache\\)' == ''\">").Count, "one guarded default");
            Assert.AreEqual(1, System.Text.RegularExpressions.Regex.Matches(targets, "LayerCache=\"\\$\\(EcrCacheLayerCache\\)\"").Count, "one task attribute");
            var options = File.ReadAllText(Path.Combine(src, "EcrCache.Tasks", "Options", "BuildOptions.cs"));
            Assert.AreEqual(1, System.Text.RegularExpressions.Regex.Matches(options, "raw\\[\"LayerCache\"\\]").Count, "one parser line");
        }

        /// <summary>Not a comment line (comments may name an option anywhere without costing an edit).</summary>
        private static bool IsCode(string line)
        {
            var text = line.TrimStart();
            return !(text.StartsWith("//", StringComparison.Ordinal) || text.StartsWith("<!--", StringComparison.Ordinal) || text.StartsWith("*", StringComparison.Ordinal));
        }

        /// <summary>The step tasks and their settable inputs (read after MSBuild is registered, hence not inlined).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        internal static Dictionary<string, HashSet<string>> StepTasks() =>
            typeof(EcrCache.Tasks.CacheStepTask).Assembly.GetTypes()
                .Where(t => !t.IsAbstract && typeof(EcrCache.Tasks.CacheStepTask).IsAssignableFrom(t))
                .ToDictionary(
                    t => t.Name,
                    t => t.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
                        .Where(p => p.SetMethod != null && p.SetMethod.IsPublic && p.DeclaringType != typeof(Microsoft.Build.Utilities.Task))
                        .Select(p => p.Name)
                        .ToHashSet(StringComparer.Ordinal));

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static IEnumerable<string> StringParameterNames(string taskName) =>
            EcrCache.Tasks.ReadCachedImageOptions.StringParameters(typeof(EcrCache.Tasks.CacheStepTask).Assembly.GetTypes().Single(t => t.Name == taskName))
                .Select(p => p.Name);

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
        private static IEnumerable<string> ProviderOptionNames() => EcrCache.Options.ProviderOptions.Rows.Select(r => r.Property).ToList();

        private static List<string> SplitNames(string value) =>
            value.Split(';', StringSplitOptions.RemoveEmptyEntries).OrderBy(n => n, StringComparer.Ordinal).ToList();

        // ---------------------------------------------------------------- targets

        [TestMethod]
        public void Targets_Exist()
        {
            var targets = SdkHarness.Targets(Project(), NoBuildkite());
            foreach (var name in new[]
            {
                "EnsureCachedImage", "ComputeCachedImageKey", "ResolveCachedImageStore", "PullOrBuildCachedImage", "ExportCachedImage", "ExplainCachedImageKey",
                "_EcrCacheClean", "_EcrCacheReadOptions", "_EcrCacheTrustEnsuredPlatform",
                "_EcrCacheCheckDesignTime", "_EcrCacheEnsureOnBuild",
            })
            {
                Assert.IsTrue(targets.ContainsKey(name), name + " is missing; have " + string.Join(", ", targets.Keys));
            }

            Assert.AreEqual("$(EnsureCachedImageDependsOn)", targets["EnsureCachedImage"]);
            Assert.AreEqual("$(ComputeCachedImageKeyDependsOn)", targets["ComputeCachedImageKey"]);
            Assert.AreEqual("$(ResolveCachedImageStoreDependsOn)", targets["ResolveCachedImageStore"]);
            Assert.AreEqual("$(PullOrBuildCachedImageDependsOn)", targets["PullOrBuildCachedImage"]);
            Assert.AreEqual("$(ExportCachedImageDependsOn)", targets["ExportCachedImage"]);
            Assert.IsFalse(targets.Keys.Any(t => t.StartsWith("EcrCache", StringComparison.Ordinal)), "private targets start with _EcrCache: " + string.Join(", ", targets.Keys));
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
                "MyBefore;_EcrCacheCheckDesignTime;ExportCachedImage;MyAfter",
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
            CollectionAssert.Contains(clean.TargetsRun, "_EcrCacheClean");
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
            foreach (var target in new[] { "EnsureCachedImage", "ComputeCachedImageKey", "ResolveCachedImageStore", "PullOrBuildCachedImage", "ExportCachedImage", "ExplainCachedImageKey" })
            {
                var outcome = SdkHarness.Build(Project(), globals, new[] { target }, "EcrCacheImageReference", "EcrCacheKey");
                Assert.IsTrue(outcome.Success, outcome.Log);
                Assert.AreEqual(0, outcome.Errors.Count + outcome.Warnings.Count, outcome.Log);
                CollectionAssert.Contains(outcome.Messages, SkipMessage, outcome.Log);
                CollectionAssert.Contains(outcome.TargetsRun, target, outcome.Log);
                AssertNoTaskRan(outcome);
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
            CollectionAssert.Contains(outcome.TargetsRun, "EnsureCachedImage", outcome.Log);
            AssertNoTaskRan(outcome);
        }

        /// <summary>No EcrCache task started (their conditions held them back), while the targets themselves ran.</summary>
        private static void AssertNoTaskRan(BuildOutcome outcome)
        {
            var ours = outcome.TasksRun.Where(t => StepTasks().ContainsKey(t)).ToList();
            Assert.AreEqual(0, ours.Count, "tasks that ran: " + string.Join(", ", ours) + outcome.Log);
        }

        [TestMethod]
        public void AStepTaskCalledWithoutItsPipeline_FailsWithECRC1903_NamingTheTarget()
        {
            // A project that calls a step task itself, without the steps before it, gets a coded error, not a crash.
            var project = Project(afterTargets: """
                  <Target Name="OnlyTheBuild">
                    <PullOrBuildCachedImage Pipeline="$(_EcrCachePipeline)" />
                  </Target>
                """);
            var globals = NoBuildkite(("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", "/nonexistent/docker"));
            var outcome = SdkHarness.Build(project, globals, new[] { "OnlyTheBuild" });
            Assert.IsFalse(outcome.Success, outcome.Log);
            var error = outcome.Errors.Single();
            Assert.AreEqual("ECRC1903", error.Code, outcome.Log);
            StringAssert.Contains(error.Message, "PullOrBuildCachedImage");
            StringAssert.Contains(error.Message, "ResolveCachedImageStore");
        }

        [TestMethod]
        public void UnknownProvider_FailsWithECRC1008_OnTheProjectFile()
        {
            File.WriteAllText(Dir("Dockerfile"), "FROM busybox\n");
            var project = Project();
            // Options are read before any step works: no docker is needed to report a bad one.
            var globals = NoBuildkite(("EcrCacheProvider", "nope"), ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", "/nonexistent/docker"));
            var outcome = SdkHarness.Build(project, globals, new[] { "EnsureCachedImage" });
            Assert.IsFalse(outcome.Success, outcome.Log);
            var error = outcome.Errors.Single();
            Assert.AreEqual("ECRC1008", error.Code, outcome.Log);
            StringAssert.Contains(error.Message, "'nope'");
            Assert.AreEqual(project, error.File);
            CollectionAssert.Contains(outcome.TasksRun, "ReadCachedImageOptions");
            CollectionAssert.DoesNotContain(outcome.TasksRun, "ComputeCachedImageKey", "no step runs after a bad option");
        }

        [TestMethod]
        public void ErrorsPointAtTheFileAndLineTheyAreAbout()
        {
            // What MSBuild prints as "file(line,col): error ECRC...": an IDE's error list opens that place.
            var project = Project();
            LoggedDiagnostic Error(string target, params (string Key, string Value)[] properties)
            {
                var globals = NoBuildkite(properties.Concat(new[] { ("EcrCacheTasksAssembly", SdkHarness.TasksAssembly), ("EcrCacheDockerPath", "/nonexistent/docker") }).ToArray());
                var outcome = SdkHarness.Build(project, globals, new[] { target });
                Assert.IsFalse(outcome.Success, outcome.Log);
                return outcome.Errors.Single();
            }

            var dockerfile = Path.GetFullPath(Dir("Dockerfile"));
            File.WriteAllText(dockerfile, "# syntax=docker/dockerfile:1\nRUN echo no base\n");
            var noFrom = Error("EnsureCachedImage");
            Assert.AreEqual(("ECRC1043", dockerfile, 1, 1), (noFrom.Code, noFrom.File, noFrom.Line, noFrom.Column), "no FROM: the Dockerfile's first line");

            File.WriteAllText(dockerfile, "ARG BASE\n\nFROM ${BASE} AS build\n");
            var emptyArg = Error("ExplainCachedImageKey");
            Assert.AreEqual(("ECRC1110", dockerfile, 3, 1), (emptyArg.Code, emptyArg.File, emptyArg.Line, emptyArg.Column), "an ARG without a value in FROM: the FROM line");

            var inline = Error("EnsureCachedImage", ("EcrCacheDockerfile", ""), ("EcrCacheDockerfileInline", "RUN echo no base"));
            Assert.AreEqual(("ECRC1043", project, 0), (inline.Code, inline.File, inline.Line), "inline Dockerfile text is the project file's");

            File.WriteAllText(Dir("docker-compose.yml"), "services:\n  api:\n    image: busybox\n");
            var compose = Error("EnsureCachedImage", ("EcrCacheComposeFile", "docker-compose.yml"), ("EcrCacheComposeService", "api"));
            Assert.AreEqual(("ECRC1027", Path.GetFullPath(Dir("docker-compose.yml")), 2, 3), (compose.Code, compose.File, compose.Line, compose.Column), "a service without build: at the service");

            File.WriteAllText(dockerfile, "# a comment\nFROM busybox AS deps\nFROM deps AS app\n");
            var stage = Error("EnsureCachedImage", ("EcrCacheTarget", "tests"));
            Assert.AreEqual(("ECRC1044", dockerfile, 2, 1), (stage.Code, stage.File, stage.Line, stage.Column), "EcrCacheTarget naming no stage: the first FROM");
            StringAssert.Contains(stage.Message, "deps, app");

            File.WriteAllText(dockerfile, "FROM busybox\n\n  RUN --mount=type=cach,target=/root/.npm npm ci\n");
            var mount = Error("EnsureCachedImage");
            Assert.AreEqual(("ECRC1045", dockerfile, 3, 3), (mount.Code, mount.File, mount.Line, mount.Column), "a bad RUN --mount: its RUN line");

            File.WriteAllText(dockerfile, "FROM busybox\n");
            var property = Error("EnsureCachedImage", ("EcrCacheProvider", "nope"));
            Assert.AreEqual(("ECRC1008", project), (property.Code, property.File), "a bad property: the project file");
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
        [TestCategory(Categories.Docker)]
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
