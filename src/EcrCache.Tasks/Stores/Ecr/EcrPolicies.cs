using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EcrCache.Stores.Ecr
{
    /// <summary>The JSON documents EcrCache writes to a repository, and how it decides they are already in place.</summary>
    internal static class EcrPolicies
    {
        /// <summary>The Sid of the statement EcrCache owns in a repository policy; other statements are kept.</summary>
        public const string PullStatementSid = "EcrCachePullAccounts";

        /// <summary>What another account needs to pull an image.</summary>
        public static readonly IReadOnlyList<string> PullActions = new[]
        {
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        };

        /// <summary>
        /// One rule, as the reference plugin's: expire every image (<c>tagStatus: any</c>) pushed more than
        /// <paramref name="days"/> days ago (<c>countType: sinceImagePushed</c>).
        /// </summary>
        public static string LifecyclePolicy(int days) => LifecyclePolicy(days, 0);

        /// <summary>
        /// EcrCache's lifecycle rules: with <paramref name="keepCount"/> above 0 a count rule (<c>imageCountMoreThan</c>)
        /// first, then, with <paramref name="days"/> above 0, the age rule. ECR wants a <c>tagStatus: any</c> rule to be the
        /// last one, so next to the age rule the count rule selects the tagged images (<c>tagPatternList: ["*"]</c>).
        /// </summary>
        public static string LifecyclePolicy(int days, int keepCount)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WritePropertyName("rules");
                w.WriteStartArray();
                var priority = 1;
                foreach (var rule in Rules(days, keepCount))
                {
                    w.WriteStartObject();
                    w.WriteNumber("rulePriority", priority++);
                    w.WriteString("description", rule.Description);
                    w.WritePropertyName("selection");
                    w.WriteStartObject();
                    w.WriteString("tagStatus", rule.TagStatus);
                    if (rule.TagPattern != null)
                    {
                        w.WritePropertyName("tagPatternList");
                        w.WriteStartArray();
                        w.WriteStringValue(rule.TagPattern);
                        w.WriteEndArray();
                    }

                    w.WriteString("countType", rule.CountType);
                    if (rule.CountUnit != null)
                    {
                        w.WriteString("countUnit", rule.CountUnit);
                    }

                    w.WriteNumber("countNumber", rule.CountNumber);
                    w.WriteEndObject();
                    w.WritePropertyName("action");
                    w.WriteStartObject();
                    w.WriteString("type", "expire");
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        /// <summary>
        /// True when <paramref name="existing"/> is exactly one rule that expires any image <paramref name="days"/> days
        /// after push (description and priority aside). Anything else, or unparsable text, needs rewriting.
        /// </summary>
        public static bool LifecyclePolicyMatches(string? existing, int days) => LifecyclePolicyMatches(existing, days, 0);

        /// <summary>
        /// True when <paramref name="existing"/> holds exactly the rules of <see cref="LifecyclePolicy(int, int)"/>, in
        /// priority order (descriptions and priority numbers aside). Anything else, or unparsable text, needs rewriting.
        /// </summary>
        public static bool LifecyclePolicyMatches(string? existing, int days, int keepCount)
        {
            if (string.IsNullOrWhiteSpace(existing))
            {
                return false;
            }

            try
            {
                using var document = JsonDocument.Parse(existing!);
                if (!document.RootElement.TryGetProperty("rules", out var rules) || rules.ValueKind != JsonValueKind.Array)
                {
                    return false;
                }

                var wanted = Rules(days, keepCount);
                var actual = rules.EnumerateArray()
                    .OrderBy(r => r.ValueKind == JsonValueKind.Object && r.TryGetProperty("rulePriority", out var p) && p.TryGetInt32(out var n) ? n : int.MaxValue)
                    .ToList();
                return actual.Count == wanted.Count && actual.Zip(wanted, RuleMatches).All(m => m);
            }
            catch (Exception ex) when (ex is JsonException || ex is InvalidOperationException)
            {
                return false;
            }
        }

        private static bool RuleMatches(JsonElement rule, LifecycleRule wanted)
        {
            if (rule.ValueKind != JsonValueKind.Object
                || !rule.TryGetProperty("selection", out var selection) || selection.ValueKind != JsonValueKind.Object
                || !rule.TryGetProperty("action", out var action) || action.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            var patterns = selection.TryGetProperty("tagPatternList", out var list) ? Strings(list) : null;
            var patternsMatch = wanted.TagPattern == null
                ? patterns == null
                : patterns != null && patterns.Count == 1 && patterns[0] == wanted.TagPattern;
            return Str(selection, "tagStatus") == wanted.TagStatus
                && Str(selection, "countType") == wanted.CountType
                && Str(selection, "countUnit") == wanted.CountUnit
                && selection.TryGetProperty("countNumber", out var count) && count.ValueKind == JsonValueKind.Number && count.TryGetInt32(out var n) && n == wanted.CountNumber
                && patternsMatch
                && !selection.TryGetProperty("tagPrefixList", out _)
                && Str(action, "type") == "expire";
        }

        private static List<LifecycleRule> Rules(int days, int keepCount)
        {
            var rules = new List<LifecycleRule>();
            if (keepCount > 0)
            {
                var count = keepCount.ToString(CultureInfo.InvariantCulture);
                rules.Add(days > 0
                    ? new LifecycleRule("EcrCache: keep the newest " + count + " tagged images", "tagged", "*", "imageCountMoreThan", null, keepCount)
                    : new LifecycleRule("EcrCache: keep the newest " + count + " images", "any", null, "imageCountMoreThan", null, keepCount));
            }

            if (days > 0)
            {
                rules.Add(new LifecycleRule("EcrCache: expire cached images " + days.ToString(CultureInfo.InvariantCulture) + " days after they were pushed", "any", null, "sinceImagePushed", "days", days));
            }

            return rules;
        }

        private sealed record LifecycleRule(string Description, string TagStatus, string? TagPattern, string CountType, string? CountUnit, int CountNumber);

        /// <summary>The IAM partition of a region: aws, aws-cn or aws-us-gov.</summary>
        public static string Partition(string region) =>
            EcrSettings.IsChinaRegion(region) ? "aws-cn" : region.StartsWith("us-gov-", StringComparison.Ordinal) ? "aws-us-gov" : "aws";

        /// <summary>
        /// The repository policy with EcrCache's pull statement for <paramref name="accounts"/>, keeping every other
        /// statement of <paramref name="existing"/>; or null when <paramref name="existing"/> already grants exactly that.
        /// </summary>
        public static string? RepositoryPolicyWithPullAccounts(string? existing, IReadOnlyList<string> accounts, string region)
        {
            var principals = accounts.Distinct(StringComparer.Ordinal).OrderBy(a => a, StringComparer.Ordinal)
                .Select(a => "arn:" + Partition(region) + ":iam::" + a + ":root").ToList();
            var others = new List<JsonElement>();
            JsonDocument? document = null;
            try
            {
                if (!string.IsNullOrWhiteSpace(existing))
                {
                    try
                    {
                        document = JsonDocument.Parse(existing!);
                    }
                    catch (JsonException)
                    {
                        document = null;
                    }
                }

                var upToDate = false;
                if (document != null && document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("Statement", out var statements))
                {
                    var list = statements.ValueKind == JsonValueKind.Array ? statements.EnumerateArray().ToList() : new List<JsonElement> { statements };
                    foreach (var statement in list)
                    {
                        if (statement.ValueKind == JsonValueKind.Object && Str(statement, "Sid") == PullStatementSid)
                        {
                            upToDate = StatementMatches(statement, principals);
                        }
                        else
                        {
                            others.Add(statement);
                        }
                    }
                }

                if (upToDate)
                {
                    return null;
                }

                using var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer))
                {
                    w.WriteStartObject();
                    w.WriteString("Version", "2012-10-17");
                    w.WritePropertyName("Statement");
                    w.WriteStartArray();
                    foreach (var other in others)
                    {
                        other.WriteTo(w);
                    }

                    w.WriteStartObject();
                    w.WriteString("Sid", PullStatementSid);
                    w.WriteString("Effect", "Allow");
                    w.WritePropertyName("Principal");
                    w.WriteStartObject();
                    w.WritePropertyName("AWS");
                    w.WriteStartArray();
                    foreach (var principal in principals)
                    {
                        w.WriteStringValue(principal);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WritePropertyName("Action");
                    w.WriteStartArray();
                    foreach (var action in PullActions)
                    {
                        w.WriteStringValue(action);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                return Encoding.UTF8.GetString(buffer.ToArray());
            }
            finally
            {
                document?.Dispose();
            }
        }

        private static bool StatementMatches(JsonElement statement, IReadOnlyList<string> principals)
        {
            if (Str(statement, "Effect") != "Allow" || statement.TryGetProperty("Condition", out _))
            {
                return false;
            }

            if (!statement.TryGetProperty("Principal", out var principal) || principal.ValueKind != JsonValueKind.Object
                || !principal.TryGetProperty("AWS", out var aws))
            {
                return false;
            }

            var actual = Strings(aws);
            var actions = statement.TryGetProperty("Action", out var a) ? Strings(a) : new List<string>();
            return actual.OrderBy(x => x, StringComparer.Ordinal).SequenceEqual(principals.OrderBy(x => x, StringComparer.Ordinal), StringComparer.Ordinal)
                && actions.OrderBy(x => x, StringComparer.OrdinalIgnoreCase).SequenceEqual(PullActions.OrderBy(x => x, StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
        }

        private static List<string> Strings(JsonElement element)
        {
            if (element.ValueKind == JsonValueKind.String)
            {
                return new List<string> { element.GetString()! };
            }

            if (element.ValueKind == JsonValueKind.Array)
            {
                return element.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).Distinct(StringComparer.Ordinal).ToList();
            }

            return new List<string>();
        }

        private static string? Str(JsonElement element, string property) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
