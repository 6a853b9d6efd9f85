using System.Collections.Generic;
using System.IO;
using System.Linq;
using EcrCache.Core;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Core
{
    [TestClass]
    public sealed class CacheOnPatternsTests
    {
        private string _dir = "";

        [TestInitialize]
        public void SetUp() => _dir = TestPaths.NewTempDirectory("ecrcache-patterns");

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

        private static void AssertMatches(string pattern, string path) =>
            Assert.IsTrue(CacheOnPatterns.ToRegex(pattern).IsMatch(path), $"'{pattern}' should match '{path}' (regex {CacheOnPatterns.ToRegex(pattern)})");

        private static void AssertNoMatch(string pattern, string path) =>
            Assert.IsFalse(CacheOnPatterns.ToRegex(pattern).IsMatch(path), $"'{pattern}' should not match '{path}' (regex {CacheOnPatterns.ToRegex(pattern)})");

        // ---------------------------------------------------------------- glob semantics

        [TestMethod]
        [DataRow("package.json")]
        [DataRow("web/package.json")]
        [DataRow("a/b/c/package.json")]
        public void DoubleStarSlash_MatchesAtTheRootAndNested(string path) => AssertMatches("**/package.json", path);

        [TestMethod]
        [DataRow("xpackage.json")]
        [DataRow("web/xpackage.json")]
        [DataRow("package.json.bak")]
        [DataRow("package-json")]
        public void DoubleStarSlash_MatchesWholeNamesOnly(string path) => AssertNoMatch("**/package.json", path);

        [TestMethod]
        public void SingleStar_DoesNotCrossFolders()
        {
            AssertMatches("*.json", "a.json");
            AssertMatches("*.json", ".json");
            AssertNoMatch("*.json", "a/b.json");
            AssertNoMatch("*.json", "a.jsonx");
            AssertMatches("src/*.cs", "src/a.cs");
            AssertNoMatch("src/*.cs", "src/x/a.cs");
            AssertNoMatch("src/*.cs", "other/src/a.cs");
        }

        [TestMethod]
        public void QuestionMark_IsOneCharacterButNotASlash()
        {
            AssertMatches("?.json", "a.json");
            AssertNoMatch("?.json", "ab.json");
            AssertNoMatch("?.json", ".json");
            AssertMatches("a?c/x", "abc/x");
            AssertNoMatch("a?c/x", "a/c/x");
        }

        [TestMethod]
        public void DoubleStar_InTheMiddleAndAtTheEnd()
        {
            AssertMatches("src/**/*.cs", "src/a.cs");
            AssertMatches("src/**/*.cs", "src/x/y/a.cs");
            AssertNoMatch("src/**/*.cs", "lib/a.cs");
            AssertMatches("src/**", "src/a");
            AssertMatches("src/**", "src/a/b/c");
            AssertNoMatch("src/**", "srcx/a");
            AssertMatches("**", "anything/at/all.txt");
        }

        [TestMethod]
        public void LiteralCharactersAreEscaped()
        {
            AssertNoMatch("a.json", "abjson");
            AssertMatches("a+b (1)[x].json", "a+b (1)[x].json");
            AssertMatches("$x^.lock", "$x^.lock");
        }

        [TestMethod]
        public void BackslashesAndDotSegmentsAreNormalised()
        {
            AssertMatches("src\\*.cs", "src/a.cs");
            AssertMatches(".\\src\\**\\*.cs", "src/x/a.cs");
            AssertMatches("./*.json", "a.json");
        }

        [TestMethod]
        public void MatchingIsCaseSensitiveOnUnix()
        {
            if (Path.DirectorySeparatorChar == '\\')
            {
                Assert.Inconclusive("Windows matches case-insensitively.");
            }

            AssertNoMatch("*.JSON", "a.json");
        }

        // ---------------------------------------------------------------- ReadPatterns

        private string WriteProject(string body)
        {
            var path = Path.Combine(_dir, "image.proj");
            File.WriteAllText(path, body);
            return path;
        }

        [TestMethod]
        public void ReadPatterns_KeepsRelativeWildcards_SkipsExpressionsLiteralsAndRootedPaths()
        {
            var project = WriteProject(@"<Project Sdk=""EcrCache.Sdk/1.0.0"">
  <ItemGroup>
    <CacheOn Include=""**/package.json"" Exclude=""**/node_modules/**"" />
    <CacheOn Include=""package-lock.json"" />
    <CacheOn Include=""$(Root)/*.json"" />
    <CacheOn Include=""@(Other)"" />
    <CacheOn Include=""%(Other.Identity)*.json"" />
    <CacheOn Include=""/abs/*.json"" />
    <CacheOn Include="" a/*.lock ; ;b/?.txt;plain.txt"" />
    <CacheOn Update=""**/*.json"" JsonPath="".dependencies"" />
    <CacheOn Remove=""x/*.json"" />
    <Other Include=""*.cs"" />
  </ItemGroup>
  <Target Name=""T"">
    <ItemGroup>
      <CacheOn Include=""inside/*.target"" />
    </ItemGroup>
  </Target>
</Project>");
            CollectionAssert.AreEqual(
                new[] { "**/package.json", "a/*.lock", "b/?.txt", "inside/*.target" },
                CacheOnPatterns.ReadPatterns(project).ToList());
        }

        [TestMethod]
        public void ReadPatterns_LeavesHashGlobsToCacheOnHashSpecs()
        {
            var project = WriteProject(@"<Project>
  <ItemGroup>
    <CacheOn Include=""**/package.json#.dependencies"" Exclude=""**/node_modules/**;dist/**"" />
    <CacheOn Include=""package.json#.devDependencies"" />
    <CacheOn Include=""*.lock"" />
  </ItemGroup>
</Project>");
            CollectionAssert.AreEqual(new[] { "*.lock" }, CacheOnPatterns.ReadPatterns(project).ToList(), "a '#' glob never matches a received file; it is checked where it is expanded");
            var glob = ProjectCacheOnItems.Read(project).HashGlobs.Single();
            Assert.AreEqual("**/package.json#.dependencies", glob.Spec);
            Assert.AreEqual("**/package.json", glob.PathPattern);
            Assert.AreEqual(".dependencies", glob.JsonPath);
            CollectionAssert.AreEqual(new[] { "**/node_modules/**", "dist/**" }, glob.Excludes.ToList());
            Assert.AreEqual(3, glob.Line);
            Assert.IsNull(glob.NotEvaluable);
        }

        [TestMethod]
        [DataRow("package.json#.dependencies", "package.json", ".dependencies")]
        [DataRow("**/package.json#.dependencies", "**/package.json", ".dependencies")]
        [DataRow("a.json # .x ", "a.json", ".x")]
        [DataRow("a#b.json#.c", "a#b.json", ".c")]
        [DataRow("p.json#.a[\"x#.y\"]", "p.json", ".a[\"x#.y\"]")]
        public void TrySplitJsonPath_SplitsAtTheFirstHashBeforeADot(string spec, string path, string jsonPath)
        {
            Assert.IsTrue(CacheOnPatterns.TrySplitJsonPath(spec, out var p, out var j));
            Assert.AreEqual(path, p);
            Assert.AreEqual(jsonPath, j);
        }

        [TestMethod]
        [DataRow("package.json")]
        [DataRow("a#b.json")]
        [DataRow("#.x")]
        [DataRow("a.json#")]
        public void TrySplitJsonPath_LeavesOtherSpecsAlone(string spec)
        {
            Assert.IsFalse(CacheOnPatterns.TrySplitJsonPath(spec, out _, out _));
        }

        [TestMethod]
        public void ReadPatterns_SkipsPatternsUnderACondition()
        {
            var project = WriteProject(@"<Project>
  <ItemGroup>
    <CacheOn Include=""always/*.json"" />
    <CacheOn Include=""item/*.json"" Condition=""'$(Ci)' == 'true'"" />
  </ItemGroup>
  <ItemGroup Condition=""Exists('web')"">
    <CacheOn Include=""group/*.json"" />
  </ItemGroup>
  <Choose>
    <When Condition=""'$(X)' == ''"">
      <ItemGroup><CacheOn Include=""when/*.json"" /></ItemGroup>
    </When>
  </Choose>
</Project>");
            CollectionAssert.AreEqual(new[] { "always/*.json" }, CacheOnPatterns.ReadPatterns(project).ToList());
        }

        [TestMethod]
        public void ReadPatterns_WorksWithTheMSBuildNamespace()
        {
            var project = WriteProject(@"<Project xmlns=""http://schemas.microsoft.com/developer/msbuild/2003"">
  <ItemGroup><CacheOn Include=""*.lock"" /></ItemGroup>
</Project>");
            CollectionAssert.AreEqual(new[] { "*.lock" }, CacheOnPatterns.ReadPatterns(project).ToList());
        }

        [TestMethod]
        public void ReadPatterns_MissingOrInvalidFile_IsEmpty()
        {
            Assert.AreEqual(0, CacheOnPatterns.ReadPatterns(Path.Combine(_dir, "nope.proj")).Count);
            Assert.AreEqual(0, CacheOnPatterns.ReadPatterns(WriteProject("<Project><ItemGroup>")).Count);
        }

        // ---------------------------------------------------------------- FindUnmatched

        private CacheOnInput Input(string relative) =>
            new CacheOnInput(Path.Combine(_dir, relative.Replace('/', Path.DirectorySeparatorChar)), relative);

        [TestMethod]
        public void FindUnmatched_ReportsOnlyPatternsWithoutAFile()
        {
            var project = WriteProject(@"<Project>
  <ItemGroup>
    <CacheOn Include=""**/package.json"" />
    <CacheOn Include=""*.lock"" />
    <CacheOn Include=""src/**/*.csproj"" />
    <CacheOn Include=""docs/?.md"" />
  </ItemGroup>
</Project>");
            var matched = new List<CacheOnInput> { Input("web/package.json"), Input("src/a/b/app.csproj"), Input("sub/yarn.lock") };
            CollectionAssert.AreEqual(
                new[] { "*.lock", "docs/?.md" },
                CacheOnPatterns.FindUnmatched(project, _dir, matched).ToList());
        }

        [TestMethod]
        public void FindUnmatched_NoPatterns_OrNoProject_IsEmpty()
        {
            var project = WriteProject(@"<Project><ItemGroup><CacheOn Include=""package.json"" /></ItemGroup></Project>");
            Assert.AreEqual(0, CacheOnPatterns.FindUnmatched(project, _dir, new List<CacheOnInput>()).Count);
            Assert.AreEqual(0, CacheOnPatterns.FindUnmatched(Path.Combine(_dir, "none.proj"), _dir, new List<CacheOnInput>()).Count);
        }

        [TestMethod]
        public void FindUnmatched_NothingMatched_ReportsEveryWildcard()
        {
            var project = WriteProject(@"<Project><ItemGroup><CacheOn Include=""**/*.json;*.lock"" /></ItemGroup></Project>");
            CollectionAssert.AreEqual(new[] { "**/*.json", "*.lock" }, CacheOnPatterns.FindUnmatched(project, _dir, new List<CacheOnInput>()).ToList());
        }

        [TestMethod]
        public void FindUnmatched_FileOutsideTheProjectFolder_DoesNotSatisfyARelativePattern()
        {
            var project = WriteProject(@"<Project><ItemGroup><CacheOn Include=""*.json"" /></ItemGroup></Project>");
            var outside = new CacheOnInput(Path.Combine(Path.GetDirectoryName(_dir)!, "x.json"), "../x.json");
            CollectionAssert.AreEqual(new[] { "*.json" }, CacheOnPatterns.FindUnmatched(project, _dir, new[] { outside }).ToList());
        }
    }
}
