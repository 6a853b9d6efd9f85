using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// Content digests as the OCI image spec defines them (descriptor.md, "Digests"): <c>algorithm:encoded</c>, where
    /// the algorithm is lower-case components joined by <c>+ . _ -</c> and the encoded part is <c>[a-zA-Z0-9=_-]+</c>;
    /// the registered algorithms fix their encoding: <c>sha256</c> is 64 and <c>sha512</c> 128 lower-case hex
    /// characters. Manifest references sent to a registry and pinned <c>FROM image@digest</c> references are checked
    /// here, so that both accept the same digests.
    /// </summary>
    internal static class OciDigest
    {
        public const string Sha256Prefix = "sha256:";

        // \z, not $: '$' would also match before a trailing newline.
        private static readonly Regex Grammar = new Regex(@"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\z", RegexOptions.CultureInvariant);

        /// <summary>True when <paramref name="text"/> is a digest by the grammar, with a registered algorithm's exact encoding.</summary>
        public static bool IsValid(string? text)
        {
            if (string.IsNullOrEmpty(text) || !Grammar.IsMatch(text))
            {
                return false;
            }

            var colon = text!.IndexOf(':');
            var encoded = text.Substring(colon + 1);
            switch (text.Substring(0, colon))
            {
                case "sha256":
                    return IsLowerHex(encoded, 64);
                case "sha512":
                    return IsLowerHex(encoded, 128);
                default:
                    return true;
            }
        }

        /// <summary>The sha256 digest of <paramref name="content"/>: <c>sha256:&lt;64 lower-case hex&gt;</c>.</summary>
        public static string Compute(byte[] content)
        {
            byte[] hash;
            using (var sha = SHA256.Create())
            {
                hash = sha.ComputeHash(content);
            }

            var sb = new StringBuilder(Sha256Prefix, Sha256Prefix.Length + 64);
            foreach (var b in hash)
            {
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }

        private static bool IsLowerHex(string text, int length)
        {
            if (text.Length != length)
            {
                return false;
            }

            foreach (var c in text)
            {
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
