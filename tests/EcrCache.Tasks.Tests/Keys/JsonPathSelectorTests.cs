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
              "dup": 2,
              "nothing": null
            }
            """;

        /// <summary>The canonical JSON selected, "null" for jq's null, or "error: ..." for jq's "Cannot index".</summary>
        private static string Select(string path)
        {
            using var doc = JsonDocument.Parse(Doc);
            if (!JsonPathSelector.TrySelect(doc.RootElement, path, out var value, out var typeError))
            {
                return "error: " + typeError;
            }

            return value == null ? "null" : CanonicalJson.Canonicalize(value.Value);
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
        [DataRow(".dependencies.\"@scope/pkg\"", "\"1.0.0\"")]
        [DataRow(".\"name\"", "\"app\"")]
        public void Selects(string path, string expected)
        {
            Assert.AreEqual(expected, Select(path));
        }

        [TestMethod]
        [DataRow(".missing")]
        [DataRow(".Name")]
        [DataRow(".items[3]")]
        [DataRow(".items[-4]")]
        [DataRow(".missing.x")]
        [DataRow(".missing[0]")]
        [DataRow(".missing.x[2].y")]
        [DataRow(".nothing")]
        [DataRow(".nothing.deeper")]
        public void SelectsNull_ForAMissingMemberOrIndex_AndUnderNull_LikeJq(string path)
        {
            Assert.AreEqual("null", Select(path));
        }

        [TestMethod]
        [DataRow(".name.x", ".name is a string, which cannot be indexed with \"x\"")]
        [DataRow(".name[0]", ".name is a string, which cannot be indexed with number")]
        [DataRow(".items.c", ".items is an array, which cannot be indexed with \"c\"")]
        [DataRow(".dependencies[0]", ".dependencies is an object, which cannot be indexed with number")]
        [DataRow(".[\"with space\"].x", ".[\"with space\"] is a boolean, which cannot be indexed with \"x\"")]
        [DataRow(".items[1].x", ".items[1] is a number, which cannot be indexed with \"x\"")]
        [DataRow(".[0]", ". is an object, which cannot be indexed with number")]
        public void IndexingAValueOfTheWrongType_IsAnError_LikeJq(string path, string reason)
        {
            Assert.AreEqual("error: " + reason, Select(path));
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
        [DataRow(".a?")]
        [DataRow(".a[1:2]")]
        [DataRow(".a | keys")]
        [DataRow("keys")]
        [DataRow(".a,.b")]
        [DataRow(".\"x")]
        [DataRow("[0]")]
        public void RejectsBadPaths(string path)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => JsonPathSelector.Parse(path, "package.json"));
            Assert.AreEqual("ECRC1103", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'" + path + "'");
            StringAssert.Contains(ex.Message, "package.json");
            StringAssert.Contains(ex.Message, "Pipes, .[], .., ?, slices, functions and filters are not supported", "the message lists the subset");
        }

        [TestMethod]
        public void TrySelectRejectsBadPathsWithTheCode()
        {
            using var doc = JsonDocument.Parse("{}");
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => JsonPathSelector.TrySelect(doc.RootElement, ".a..b", out _, out _));
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
            Assert.AreEqual(".dependencies[\"@scope/pkg\"].a", JsonPathSelector.Canonicalize(".dependencies.\"@scope/pkg\".\"a\""), "jq's .\"name\" quoting is another spelling");
            Assert.AreEqual(JsonPathSelector.Canonicalize(".[\"a b\"].c"), JsonPathSelector.Canonicalize(JsonPathSelector.Canonicalize(".[\"a b\"].c")));
        }
    }
}
