using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EcrCache.Stores.Gar
{
    /// <summary>An Artifact Registry repository as the REST API returns it (the fields EcrCache reads).</summary>
    /// <param name="Name">projects/p/locations/l/repositories/r.</param>
    /// <param name="Format">DOCKER, MAVEN, NPM, ...</param>
    internal sealed record GarRepository(string Name, string Format, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, GarCleanupPolicy> CleanupPolicies, bool CleanupPolicyDryRun)
    {
        public override string ToString() => Name + " (" + Format + ")";

        internal static GarRepository Parse(JsonElement element)
        {
            var name = Str(element, "name") ?? string.Empty;
            var format = Str(element, "format") ?? string.Empty;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (element.TryGetProperty("labels", out var l) && l.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in l.EnumerateObject())
                {
                    labels[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() ?? string.Empty : p.Value.GetRawText();
                }
            }

            var policies = new Dictionary<string, GarCleanupPolicy>(StringComparer.Ordinal);
            if (element.TryGetProperty("cleanupPolicies", out var c) && c.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in c.EnumerateObject())
                {
                    policies[p.Name] = GarCleanupPolicy.Parse(p.Name, p.Value);
                }
            }

            var dryRun = element.TryGetProperty("cleanupPolicyDryRun", out var d) && d.ValueKind == JsonValueKind.True;
            return new GarRepository(name, format, labels, policies, dryRun);
        }

        internal static string? Str(JsonElement element, string property) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>
    /// One cleanup policy. EcrCache owns one per image path (id <see cref="PolicyIdFor"/>): delete every version (tagged
    /// or not) of the packages under that path older than EcrCacheMaxAgeDays, so a repository shared with other images
    /// (gcr.io repositories always are) never loses anything else. Other policies are kept as they are (their raw JSON is
    /// written back).
    /// </summary>
    /// <param name="OlderThan">A protobuf Duration as JSON has it, e.g. "604800s".</param>
    /// <param name="HasOtherConditions">True when the condition also filters on something else (tag prefixes, versions, newerThan, ...) or the policy keeps most recent versions.</param>
    /// <param name="RawJson">The policy as the API sent it, written back unchanged for policies that are not EcrCache's.</param>
    internal sealed record GarCleanupPolicy(string Id, string? Action, string? TagState, string? OlderThan, IReadOnlyList<string> PackageNamePrefixes, bool HasOtherConditions, string RawJson)
    {
        public const string IdPrefix = "ecrcache-";

        /// <summary>The seconds of <see cref="OlderThan"/>, or null when it is not a whole-seconds duration.</summary>
        public long? OlderThanSeconds
        {
            get
            {
                if (OlderThan == null || !OlderThan.EndsWith("s", StringComparison.Ordinal))
                {
                    return null;
                }

                var text = OlderThan.Substring(0, OlderThan.Length - 1);
                if (decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds == decimal.Truncate(seconds))
                {
                    return (long)seconds;
                }

                return null;
            }
        }

        /// <summary>The id of EcrCache's policy for an image path: ecrcache- and 16 hex digits of its SHA-256 (ids are short; paths are not).</summary>
        public static string PolicyIdFor(string imagePath)
        {
            using var sha = System.Security.Cryptography.SHA256.Create();
            var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(imagePath));
            var sb = new StringBuilder(IdPrefix);
            for (var i = 0; i < 8; i++)
            {
                sb.Append(hash[i].ToString("x2", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }

        /// <summary>EcrCache's policy for <paramref name="imagePath"/> and <paramref name="days"/> days, as JSON.</summary>
        public static string ExpiryJson(string imagePath, int days) => Json(w => WriteExpiry(w, imagePath, days));

        internal static void WriteExpiry(Utf8JsonWriter w, string imagePath, int days)
        {
            WritePolicy(w, PolicyIdFor(imagePath), "DELETE", "condition", imagePath, rule =>
            {
                rule.WriteString("tagState", "ANY");
                rule.WriteString("olderThan", ((long)days * 86400).ToString(CultureInfo.InvariantCulture) + "s");
            });
        }

        /// <summary>The id of EcrCache's keep policy (EcrCacheKeepCount) for an image path: the expiry policy's id and -keep.</summary>
        public static string KeepPolicyIdFor(string imagePath) => PolicyIdFor(imagePath) + "-keep";

        /// <summary>
        /// EcrCache's keep policy: the newest <paramref name="keepCount"/> versions of the packages under
        /// <paramref name="imagePath"/> are kept; Artifact Registry applies KEEP over DELETE, so they survive the expiry.
        /// </summary>
        internal static void WriteKeep(Utf8JsonWriter w, string imagePath, int keepCount)
        {
            WritePolicy(w, KeepPolicyIdFor(imagePath), "KEEP", "mostRecentVersions", imagePath, rule => rule.WriteNumber("keepCount", keepCount));
        }

        // A cleanup policy: id, action and one rule object that selects the packages under the image path, and only those
        // (other images in the repository keep their own rules), plus the rule's own fields.
        private static void WritePolicy(Utf8JsonWriter w, string id, string action, string ruleName, string imagePath, Action<Utf8JsonWriter> writeRule)
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("action", action);
            w.WritePropertyName(ruleName);
            w.WriteStartObject();
            w.WritePropertyName("packageNamePrefixes");
            w.WriteStartArray();
            w.WriteStringValue(imagePath);
            w.WriteEndArray();
            writeRule(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        /// <summary>EcrCache's keep policy for <paramref name="imagePath"/> and <paramref name="keepCount"/>, as JSON.</summary>
        public static string KeepJson(string imagePath, int keepCount) => Json(w => WriteKeep(w, imagePath, keepCount));

        private static string Json(Action<Utf8JsonWriter> write)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                write(w);
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        /// <summary>True when this is exactly EcrCache's keep policy for <paramref name="imagePath"/> and <paramref name="keepCount"/>.</summary>
        public bool IsKeep(string imagePath, int keepCount)
        {
            try
            {
                using var document = JsonDocument.Parse(RawJson);
                var root = document.RootElement;
                if (GarRepository.Str(root, "action") != "KEEP" || root.TryGetProperty("condition", out _)
                    || !root.TryGetProperty("mostRecentVersions", out var recent) || recent.ValueKind != JsonValueKind.Object)
                {
                    return false;
                }

                var prefixes = recent.TryGetProperty("packageNamePrefixes", out var p) && p.ValueKind == JsonValueKind.Array
                    ? p.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : null).ToList()
                    : new List<string?>();
                return prefixes.Count == 1 && prefixes[0] == imagePath
                    && recent.TryGetProperty("keepCount", out var count) && count.ValueKind == JsonValueKind.Number && count.TryGetInt32(out var n) && n == keepCount
                    && recent.EnumerateObject().All(q => q.Name == "packageNamePrefixes" || q.Name == "keepCount");
            }
            catch (JsonException)
            {
                return false;
            }
        }

        /// <summary>True when this is exactly EcrCache's expiry rule for <paramref name="imagePath"/> and <paramref name="days"/> days.</summary>
        public bool IsExpiry(string imagePath, int days) =>
            string.Equals(Action, "DELETE", StringComparison.Ordinal)
            && string.Equals(TagState, "ANY", StringComparison.Ordinal)
            && OlderThanSeconds == (long)days * 86400
            && PackageNamePrefixes.Count == 1 && string.Equals(PackageNamePrefixes[0], imagePath, StringComparison.Ordinal)
            && !HasOtherConditions;

        internal static GarCleanupPolicy Parse(string id, JsonElement element)
        {
            string? action = GarRepository.Str(element, "action");
            string? tagState = null;
            string? olderThan = null;
            var prefixes = new List<string>();
            var other = element.TryGetProperty("mostRecentVersions", out _);
            if (element.TryGetProperty("condition", out var condition) && condition.ValueKind == JsonValueKind.Object)
            {
                tagState = GarRepository.Str(condition, "tagState");
                olderThan = GarRepository.Str(condition, "olderThan");
                if (condition.TryGetProperty("packageNamePrefixes", out var p) && p.ValueKind == JsonValueKind.Array)
                {
                    prefixes.AddRange(p.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!));
                }

                other |= condition.EnumerateObject().Any(q => q.Name != "tagState" && q.Name != "olderThan" && q.Name != "packageNamePrefixes");
            }

            return new GarCleanupPolicy(id, action, tagState, olderThan, prefixes, other, element.GetRawText());
        }
    }
}
