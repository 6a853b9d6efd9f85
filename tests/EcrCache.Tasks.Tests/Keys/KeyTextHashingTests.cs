using System.Security.Cryptography;
using System.Text;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    /// <summary>
    /// ComputeKeyHash streams the key text into SHA-256 in chunks without building it whole: it must equal the SHA-256 of
    /// the UTF-8 of ToKeyText() whatever the chunk boundaries, also with surrogate pairs and lone surrogates.
    /// </summary>
    [TestClass]
    public sealed class KeyTextHashingTests
    {
        [TestMethod]
        public void StreamedKeyHash_EqualsHashOfTheWholeText_WithPairsAcrossEveryBoundary()
        {
            var random = new Random(7);
            var entries = new List<KeyManifestEntry> { new KeyManifestEntry("algorithm", "ecrcache", "1") };
            for (var i = 0; i < 3000; i++)
            {
                var name = new StringBuilder("dir/");
                var length = random.Next(1, 40);
                for (var j = 0; j < length; j++)
                {
                    switch (random.Next(5))
                    {
                        case 0: name.Append("\U0001F600"); break; // a surrogate pair
                        case 1: name.Append('é'); break;
                        case 2: name.Append('\t'); break; // escaped in the key text
                        case 3 when i % 97 == 0: name.Append('\uD800'); break; // a lone high surrogate
                        default: name.Append((char)('a' + random.Next(26))); break;
                    }
                }

                entries.Add(new KeyManifestEntry("file", name.ToString() + i, new string('0', 64)));
            }

            var manifest = new KeyManifest(1, entries);
            var expected = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToKeyText()))).ToLowerInvariant();
            Assert.AreEqual(expected, manifest.ComputeKeyHash());
        }
    }
}
