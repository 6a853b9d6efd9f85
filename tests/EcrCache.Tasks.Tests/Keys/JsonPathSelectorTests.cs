using System.Text.Json;
using EcrCache.Diagnostics;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class JsonPathSelectorTests
    {
        private const string Doc = """
            {
              "name": "app",
              "dev-dependencies": { "x": 1 },
              "$schema": "s",
              "dependencies": { "@scope/pkg": "1.0.0", "a.b": "2", "left-pad": "1.3.0" },
              "items": [ { "c": "first" }, 10, [ 20, 21, 22 ] ],
              "with space": true,
              "dup": 1,
              "dup": 2
            }
            """;

        private static string? Select(string path)
        {
            using var doc = JsonDocument.Parse(Doc);
            return JsonPathSelector.TrySelect(doc.RootElement, path, out var value) ? CanonicalJson.Canonicalize(value) : null;
        }

        [TestMethod]
        public void SelectsTheWholeDocument()
        {
            StringAssert.StartsWith(Select("."), "{\"$schema\":\"s\"");
            Assert.AreEqual(Select("."), Select("  .  "));
        }

        [TestMethod]
        [DataRow(".name", "\"app\"")]
        [DataRow(".dev-dependencies", "{\"x\":1}")]
        [DataRow(".dev-dependencies.x", "1")]
        [DataRow(".$schema", "\"s\"")]
        [DataRow(".dependencies[\"@scope/pkg\"]", "\"1.0.0\"")]
        [DataRow(".dependencies.[\"a.b\"]", "\"2\"")]
        [DataRow(".[\"dependencies\"][\"left-pad\"]", "\"1.3.0\"")]
        [DataRow(".[\"with space\"]", "true")]
        [DataRow(".items[0].c", "\"first\"")]
        [DataRow(".items[1]", "10")]
        [DataRow(".items[2][1]", "21")]
        [DataRow(".items.[2].[0]", "20")]
        [DataRow(".items[-1][-1]", "22")]
        [DataRow(".items[-3].c", "\"first\"")]
        [DataRow(".dup", "2")]
        [DataRow(".[\"\\u006eame\"]", "\"app\"")]
        public void Selects(string path, string expected)
        {
            Assert.AreEqual(expected, Select(path));
        }

        [TestMethod]
        [DataRow(".missing")]
        [DataRow(".name.x")]
        [DataRow(".items[3]")]
        [DataRow(".items[-4]")]
        [DataRow(".items.c")]
        [DataRow(".dependencies[0]")]
        [DataRow(".Name")]
        public void ReportsNotFound(string path)
        {
            Assert.IsNull(Select(path));
        }

        [TestMethod]
        [DataRow("")]
        [DataRow("   ")]
        [DataRow("name")]
        [DataRow("..")]
        [DataRow("..a")]
        [DataRow(".a.")]
        [DataRow(".a..b")]
        [DataRow(".@scope/pkg")]
        [DataRow(".a b")]
        [DataRow(".a[")]
        [DataRow(".a[]")]
        [DataRow(".a[x]")]
        [DataRow(".a[1")]
        [DataRow(".a[1.5]")]
        [DataRow(".a[99999999999]")]
        [DataRow(".a[\"x]")]
        [DataRow(".a[\"x\"")]
        [DataRow(".a['x']")]
        [DataRow(".a[\"\\q\"]")]
        [DataRow(".a[\"\\ud800\"]")]
        [DataRow(".é")]
        [DataRow(".a | .b")]
        [DataRow(".[]")]
        [DataRow("[0]")]
        public void RejectsBadPaths(string path)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => JsonPathSelector.Parse(path, "package.json"));
            Assert.AreEqual("ECRC1103", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'" + path + "'");
            StringAssert.Contains(ex.Message, "package.json");
        }

        [TestMethod]
        public void TrySelectRejectsBadPathsWithTheCode()
        {
            using var doc = JsonDocument.Parse("{}");
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => JsonPathSelector.TrySelect(doc.RootElement, ".a..b", out _));
            Assert.AreEqual("ECRC1103", ex.Diagnostic.Code);
        }

        [TestMethod]
        public void ParseReturnsCanonicalTokens()
        {
            CollectionAssert.AreEqual(Array.Empty<string>(), JsonPathSelector.Parse(".").ToArray());
            CollectionAssert.AreEqual(new[] { ".a", ".b-c", "[2]", ".d" }, JsonPathSelector.Parse(".a[\"b-c\"].[2].d").ToArray());
            CollectionAssert.AreEqual(new[] { ".dependencies", "[\"@scope/pkg\"]", "[-1]" }, JsonPathSelector.Parse(".dependencies[\"@scope/pkg\"][-1]").ToArray());
            CollectionAssert.AreEqual(new[] { "[\"a.b\"]", "[\"\\n\"]", "[\"é\"]", "[0]" }, JsonPathSelector.Parse(".[\"a.b\"][\"\\n\"][\"\\u00e9\"][00]").ToArray());
        }

        [TestMethod]
        public void CanonicalizeGivesOneSpellingPerPath()
        {
            Assert.AreEqual(".", JsonPathSelector.Canonicalize(" . "));
            Assert.AreEqual(".a.b[0]", JsonPathSelector.Canonicalize(".[\"a\"].[\"b\"].[0]"));
            Assert.AreEqual(".[\"a b\"].c", JsonPathSelector.Canonicalize(".[\"a b\"][\"c\"]"));
            Assert.AreEqual(".[0]", JsonPathSelector.Canonicalize(".[0]"));
            Assert.AreEqual(JsonPathSelector.Canonicalize(".[\"a b\"].c"), JsonPathSelector.Canonicalize(JsonPathSelector.Canonicalize(".[\"a b\"].c")));
        }
    }
}
