using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Keys;
using EcrCache.Keys.Explain;
using EcrCache.Options;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>
    /// The reference plugin's "cache-on: path#.jsonpath" form: a literal item reaches the task and is split; a glob
    /// never does (MSBuild drops it), so OptionsParser reads it from the project file and expands it itself. The raw
    /// items below are what MSBuild passes for the project written beside them: globs expanded (FullPath set), a '#'
    /// glob absent.
    /// </summary>
    [TestClass]
    public sealed class CacheOnHashSpecsTests
    {
        private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddHours(1);
        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-hashspecs");
            File.WriteAllText(Path.Combine(_dir, "Dockerfile"), "FROM busybox\n");
            Write("package.json", "{\"name\":\"root\",\"dependencies\":{\"a\":\"1\"}}");
            Write("web/package.json", "{\"name\":\"web\",\"dependencies\":{\"b\":\"2\"}}");
            Write("web/node_modules/b/package.json", "{\"name\":\"b\",\"dependencies\":{}}");
            Write("api/deep/er/package.json", "{\"name\":\"api\"}");
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

        private string Write(string relative, string text)
        {
            var path = Path.Combine(_dir, relative.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
            File.SetLastWriteTimeUtc(path, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            return path;
        }

        private RawOptions Raw(string itemGroup, params RawItem[] received)
        {
            var project = Path.Combine(_dir, "image.proj");
            File.WriteAllText(project, "<Project Sdk=\"EcrCache.Sdk\">\n  <ItemGroup>\n" + itemGroup + "\n  </ItemGroup>\n</Project>\n");
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "image",
                ProjectFile = project,
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                Environment = _ => null,
            };
            foreach (var item in received)
            {
                raw.CacheOn.Add(item);
            }

            return raw;
        }

        private static RawItem Item(string spec, params (string Key, string Value)[] metadata)
        {
            var dict = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, value) in metadata)
            {
                dict[key] = value;
            }

            return new RawItem(spec, dict);
        }

        private static string[] Describe(CacheOptions options) =>
            options.CacheOn.Select(c => c.RelativePath + (c.JsonPath != null ? "#" + c.JsonPath : "")).OrderBy(s => s, StringComparer.Ordinal).ToArray();

        private static EcrCacheException Fails(RawOptions raw, string code)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual(code, ex.Diagnostic.Code, ex.Message);
            return ex;
        }

        // ---------------------------------------------------------------- literal items

        [TestMethod]
        public void ALiteralFileHashJsonPath_IsTheFileWithJsonPathMetadata()
        {
            var raw = Raw("<CacheOn Include=\"package.json#.dependencies\" />", Item("package.json#.dependencies", ("FullPath", Path.Combine(_dir, "package.json#.dependencies"))));
            var log = new CapturingBuildLog();
            var options = OptionsParser.Parse(raw, log);
            var input = options.CacheOn.Single();
            Assert.AreEqual(Path.Combine(_dir, "package.json"), input.FullPath);
            Assert.AreEqual("package.json", input.RelativePath);
            Assert.AreEqual(".dependencies", input.JsonPath);
            Assert.AreEqual(0, log.Warnings.Count, log.AllText);

            var key = CacheKeyCalculator.Compute(KeyInputsFactory.Create(options, "linux/amd64", Array.Empty<EcrCache.Keys.BaseImages.ResolvedBaseImage>()));
            var viaMetadata = OptionsParser.Parse(Raw("", Item("package.json", ("JsonPath", ".dependencies"))), new CapturingBuildLog());
            Assert.AreEqual(
                CacheKeyCalculator.Compute(KeyInputsFactory.Create(viaMetadata, "linux/amd64", Array.Empty<EcrCache.Keys.BaseImages.ResolvedBaseImage>())).Hash,
                key.Hash,
                "the shorthand keys exactly like JsonPath metadata");
        }

        [TestMethod]
        public void ALiteralWithQuotedNamesAndAnotherHashInTheJsonPath_SplitsAtTheFirstHashDot()
        {
            var options = OptionsParser.Parse(Raw("", Item("web/package.json#.dependencies[\"@scope/x#.y\"]")), new CapturingBuildLog());
            Assert.AreEqual("web/package.json", options.CacheOn.Single().RelativePath);
            Assert.AreEqual(".dependencies[\"@scope/x#.y\"]", options.CacheOn.Single().JsonPath);
        }

        [TestMethod]
        public void AFileWhoseNameHasAHash_IsAPlainFile()
        {
            Write("notes#.txt", "x");
            var options = OptionsParser.Parse(Raw("", Item("notes#.txt")), new CapturingBuildLog());
            Assert.AreEqual("notes#.txt", options.CacheOn.Single().RelativePath);
            Assert.IsNull(options.CacheOn.Single().JsonPath);
        }

        [TestMethod]
        public void ALiteralWithAMissingFile_IsECRC1105_UnlessOptional()
        {
            var ex = Fails(Raw("", Item("gone.json#.dependencies")), "ECRC1105");
            StringAssert.Contains(ex.Message, "'gone.json#.dependencies'");

            var options = OptionsParser.Parse(Raw("", Item("gone.json#.dependencies", ("Optional", "true"))), new CapturingBuildLog());
            var input = options.CacheOn.Single();
            Assert.AreEqual("gone.json", input.RelativePath);
            Assert.AreEqual(".dependencies", input.JsonPath);
            Assert.IsTrue(input.Optional);
        }

        [TestMethod]
        public void ALiteralWithHashAndJsonPathMetadata_IsECRC1116()
        {
            StringAssert.Contains(Fails(Raw("", Item("package.json#.dependencies", ("JsonPath", ".name"))), "ECRC1116").Message, "'.name'");
        }

        [TestMethod]
        public void ALiteralWithAJsonPathOutsideTheSubset_IsECRC1103_NamingTheItem()
        {
            StringAssert.Contains(Fails(Raw("", Item("package.json#.dependencies | keys")), "ECRC1103").Message, "'package.json#.dependencies | keys'");
        }

        // ---------------------------------------------------------------- globs from the project file

        [TestMethod]
        public void AGlobWithHash_IsExpandedFromTheProjectFile_WithItsExclude()
        {
            // MSBuild dropped the glob: no item for it reaches the task.
            var raw = Raw("    <CacheOn Include=\"**/package.json#.dependencies\" Exclude=\"**/node_modules/**\" />");
            var log = new CapturingBuildLog();
            var options = OptionsParser.Parse(raw, log);
            CollectionAssert.AreEqual(
                new[] { "api/deep/er/package.json#.dependencies", "package.json#.dependencies", "web/package.json#.dependencies" },
                Describe(options));
            Assert.IsFalse(log.WarningCodes.Contains("ECRC1104"), "the '#' glob matched: " + log.AllText);
            Assert.IsTrue(options.CacheOn.All(c => options.CacheOnStats.ContainsKey(c.FullPath)), "the input stamp reuses the stats");
            StringAssert.Contains(log.AllText, "3 file(s)");
        }

        [TestMethod]
        public void AGlobWithHash_SeveralPartsAndLiteralExcludes()
        {
            var raw = Raw("    <CacheOn Include=\"web/*.json#.name;api/**/*.json#.name\" Exclude=\"api/deep/er/package.json\" />");
            var options = OptionsParser.Parse(raw, new CapturingBuildLog());
            CollectionAssert.AreEqual(new[] { "web/package.json#.name" }, Describe(options), "* does not cross folders; the literal Exclude removes the api file");
        }

        [TestMethod]
        public void AGlobWithHashOutsideTheProjectFolder()
        {
            var shared = Path.Combine(Path.GetDirectoryName(_dir)!, Path.GetFileName(_dir) + "-shared");
            Directory.CreateDirectory(Path.Combine(shared, "x"));
            File.WriteAllText(Path.Combine(shared, "x", "tool.json"), "{\"v\":1}");
            try
            {
                var raw = Raw("    <CacheOn Include=\"../" + Path.GetFileName(shared) + "/**/tool.json#.v\" />");
                var options = OptionsParser.Parse(raw, new CapturingBuildLog());
                CollectionAssert.AreEqual(new[] { "../" + Path.GetFileName(shared) + "/x/tool.json#.v" }, Describe(options));
            }
            finally
            {
                Directory.Delete(shared, recursive: true);
            }
        }

        [TestMethod]
        public void AGlobWithHashThatMatchesNothing_IsWarningECRC1104_WithItsLine()
        {
            var raw = Raw("    <CacheOn Include=\"nothing/**/*.json#.a\" />");
            var log = new CapturingBuildLog();
            var options = OptionsParser.Parse(raw, log);
            var warning = log.Warnings.Single(w => w.Code == "ECRC1104");
            StringAssert.Contains(warning.Message, "'nothing/**/*.json#.a'");
            Assert.AreEqual(3, warning.Line);
            Assert.AreEqual(0, options.CacheOn.Count);
        }

        [TestMethod]
        [DataRow("<CacheOn Include=\"**/package.json#.dependencies\" Condition=\"'$(Ci)' == 'true'\" />", "under a Condition")]
        [DataRow("<CacheOn Include=\"$(Root)/**/package.json#.dependencies\" />", "built from $(...)")]
        [DataRow("<CacheOn Include=\"**/package.json#.dependencies\" Exclude=\"@(Ignored)\" />", "its Exclude is built from")]
        public void AGlobWithHashThatCannotBeEvaluated_IsECRC1115_SayingHowToWriteIt(string element, string reason)
        {
            var raw = Raw("    " + element);
            var ex = Fails(raw, "ECRC1115");
            StringAssert.Contains(ex.Message, reason);
            StringAssert.Contains(ex.Message, "JsonPath=\".dependencies\"");
            StringAssert.Contains(ex.Message, raw.ProjectFile!);
            StringAssert.Contains(ex.Message, ", line 3)");
            Assert.AreEqual(3, ex.Diagnostic.Line, "the MSBuild error points at the element");
        }

        [TestMethod]
        public void AGlobWithHashInsideATarget_IsECRC1115()
        {
            var project = Path.Combine(_dir, "image.proj");
            var raw = Raw("");
            File.WriteAllText(project, "<Project>\n  <Target Name=\"T\">\n    <ItemGroup>\n      <CacheOn Include=\"**/package.json#.x\" />\n    </ItemGroup>\n  </Target>\n</Project>\n");
            StringAssert.Contains(Fails(raw, "ECRC1115").Message, "inside a Target");
        }

        [TestMethod]
        public void AGlobWithHashAndJsonPathMetadata_IsECRC1116()
        {
            Fails(Raw("    <CacheOn Include=\"**/package.json#.dependencies\" JsonPath=\".name\" />"), "ECRC1116");
            Fails(Raw("    <CacheOn Include=\"**/package.json#.dependencies\">\n      <JsonPath>.name</JsonPath>\n    </CacheOn>"), "ECRC1116");
        }

        [TestMethod]
        public void AGlobWithHashAndABadJsonPath_IsECRC1103_EvenWhenNothingMatches()
        {
            Fails(Raw("    <CacheOn Include=\"nothing/*.json#.a[]\" />"), "ECRC1103");
        }

        [TestMethod]
        public void AGlobThatMSBuildExpandedItself_IsNotSplit()
        {
            // "**/*#.json" is an ordinary glob over files named like "x#.json": MSBuild expanded it, so it is not
            // "**/*" with the JsonPath ".json".
            var file = Write("x#.json", "not json");
            var raw = Raw("    <CacheOn Include=\"**/*#.json\" />", Item("x#.json", ("FullPath", file)));
            var options = OptionsParser.Parse(raw, new CapturingBuildLog());
            CollectionAssert.AreEqual(new[] { "x#.json" }, Describe(options));
        }

        [TestMethod]
        public void AGlobWithHashThatReachesTheTaskUnexpanded_IsExpandedOnce()
        {
            // MSBuild passes a glob on as it is when it cannot expand it (e.g. characters a Windows path cannot hold).
            var raw = Raw("    <CacheOn Include=\"web/*.json#.dependencies\" />", Item("web/*.json#.dependencies"));
            CollectionAssert.AreEqual(new[] { "web/package.json#.dependencies" }, Describe(OptionsParser.Parse(raw, new CapturingBuildLog())));

            var fromElsewhere = Raw("", Item("web/*.json#.dependencies"));
            StringAssert.Contains(Fails(fromElsewhere, "ECRC1115").Message, "does not come from the project file");
        }

        [TestMethod]
        public void PlainPatternsAreNotConfusedWithHashGlobs()
        {
            var raw = Raw("    <CacheOn Include=\"**/package.json#.dependencies\" Exclude=\"**/node_modules/**\" />\n    <CacheOn Include=\"**/*.lock\" />");
            var log = new CapturingBuildLog();
            OptionsParser.Parse(raw, log);
            CollectionAssert.AreEqual(new[] { "ECRC1104" }, log.WarningCodes.ToArray(), "only the plain glob matched nothing: " + log.AllText);
            StringAssert.Contains(log.Warnings[0].Message, "'**/*.lock'");
        }

        // ---------------------------------------------------------------- key and input stamp

        private (CacheKey Key, CapturingBuildLog Log) Key(RawOptions raw)
        {
            var options = OptionsParser.Parse(raw, new CapturingBuildLog());
            var log = new CapturingBuildLog();
            var inputs = KeyInputsFactory.Create(options, "linux/amd64", Array.Empty<EcrCache.Keys.BaseImages.ResolvedBaseImage>());
            var key = KeyStage.Compute(inputs, options.IntermediateDirectory, options.CacheOnStats, log, CancellationToken.None, Later);
            Assert.AreEqual(CacheKeyCalculator.Compute(inputs).Hash, key.Hash, "the stamp never gives another key than hashing");
            return (key, log);
        }

        [TestMethod]
        public void TheKeyFollowsTheSelectedValue_AndTheInputStampNoticesChangedAndNewFiles()
        {
            const string Glob = "    <CacheOn Include=\"**/package.json#.dependencies\" Exclude=\"**/node_modules/**\" />";
            var (first, _) = Key(Raw(Glob));
            var (again, againLog) = Key(Raw(Glob));
            Assert.AreEqual(first.Hash, again.Hash);
            StringAssert.Contains(againLog.AllText, "Inputs unchanged", "the no-op fast path works for '#' globs");

            // Another member of a matched file: the stamp sees the file changed, the key stays.
            Write("web/package.json", "{\"name\":\"web-renamed\",\"dependencies\":{\"b\":\"2\"}}");
            var (renamed, renamedLog) = Key(Raw(Glob));
            Assert.IsFalse(renamedLog.AllText.Contains("Inputs unchanged", StringComparison.Ordinal), "the stamp must notice the edit");
            Assert.AreEqual(first.Hash, renamed.Hash, "a member outside .dependencies does not change the key");

            // A dependency: a new key.
            Write("web/package.json", "{\"name\":\"web-renamed\",\"dependencies\":{\"b\":\"3\"}}");
            var (bumped, _) = Key(Raw(Glob));
            Assert.AreNotEqual(first.Hash, bumped.Hash);

            // A new file matching the glob: noticed without any stamp help, and a new key.
            Key(Raw(Glob));
            Write("worker/package.json", "{\"dependencies\":{\"c\":\"1\"}}");
            var (added, addedLog) = Key(Raw(Glob));
            Assert.IsFalse(addedLog.AllText.Contains("Inputs unchanged", StringComparison.Ordinal), "a new matching file must be noticed");
            Assert.AreNotEqual(bumped.Hash, added.Hash);
            Assert.IsTrue(added.Manifest.Entries.Any(e => e.Name == "worker/package.json#.dependencies"));
            CollectionAssert.Contains(MissExplanation.Describe(bumped.Manifest, added.Manifest).ToArray(), "JSON value worker/package.json#.dependencies added");
        }
    }
}
