using System.Text.Json;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class CanonicalJsonTests
    {
        private static string Canon(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return CanonicalJson.Canonicalize(doc.RootElement);
        }

        [TestMethod]
        public void SortsMembersOrdinallyAndDropsWhiteSpace()
        {
            Assert.AreEqual("{\"A\":1,\"_\":[1,2,{\"a\":null,\"b\":true}],\"a\":false}",
                Canon("{ \"a\" : false,\n \"_\": [1, 2, {\"b\": true, \"a\": null}],\r\n\t\"A\": 1 }"));
        }

        [TestMethod]
        public void OrdinalOrderIsUtf16CodeUnitOrder()
        {
            // U+00E9 (é) sorts before U+1F600 (a surrogate pair, 0xD83D...) and after 'z'.
            Assert.AreEqual("{\"z\":1,\"é\":2,\"😀\":3}", Canon("{\"😀\":3,\"é\":2,\"z\":1}"));
        }

        [TestMethod]
        public void KeepsNumbersAsWritten()
        {
            Assert.AreEqual("[1,1.0,1e0,1E+0,-0,12345678901234567890123]", Canon("[1, 1.0, 1e0, 1E+0, -0, 12345678901234567890123]"));
            Assert.AreNotEqual(Canon("{\"v\":1}"), Canon("{\"v\":1.0}"));
        }

        [TestMethod]
        public void EscapesStringsMinimally()
        {
            Assert.AreEqual("[\"é\",\"/\",\"<>&'+\",\"\\\"\\\\\",\"\\b\\f\\n\\r\\t\",\"\\u0001\\u001f\",\"\u007f\u2028\"]",
                Canon("[\"\\u00e9\", \"\\/\", \"\\u003c>&'+\", \"\\\"\\\\\", \"\\b\\f\\n\\r\\t\", \"\\u0001\\u001F\", \"\\u007f\\u2028\"]"));
            Assert.AreEqual(Canon("\"é\""), Canon("\"\\u00E9\""));
        }

        [TestMethod]
        public void EscapesMemberNames()
        {
            Assert.AreEqual("{\"a\\nb\":\"x\"}", Canon("{\"a\\u000ab\":\"x\"}"));
        }

        [TestMethod]
        public void DuplicateMembersKeepDocumentOrder()
        {
            Assert.AreEqual("{\"a\":2,\"a\":1,\"b\":0}", Canon("{\"b\":0,\"a\":2,\"a\":1}"));
        }

        [TestMethod]
        public void ScalarsAndEmptyContainers()
        {
            Assert.AreEqual("null", Canon(" null "));
            Assert.AreEqual("true", Canon("true"));
            Assert.AreEqual("\"\"", Canon("\"\""));
            Assert.AreEqual("{}", Canon("{ }"));
            Assert.AreEqual("[]", Canon("[ ]"));
        }
    }
}
