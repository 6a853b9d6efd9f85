using Amazon.S3;
using Amazon.S3.Model;

namespace EcrCache.Stores.Tarballs.S3
{
    /// <summary>
    /// The bucket lifecycle rule that expires cached tarballs: one rule per prefix, id <c>ecrcache:&lt;prefix&gt;</c>,
    /// filter on the prefix, expiry after EcrCacheMaxAgeDays days, and incomplete multipart uploads aborted after one
    /// day (a build killed with SIGKILL cannot abort its own upload). Other rules of the bucket are kept as they are.
    /// </summary>
    internal static class S3LifecycleRules
    {
        /// <summary>Days after which S3 aborts an incomplete multipart upload under the prefix.</summary>
        public const int AbortIncompleteUploadDays = 1;

        /// <summary>The longest rule id S3 accepts.</summary>
        private const int MaxIdLength = 255;

        public static string RuleId(string prefix)
        {
            var id = "ecrcache:" + prefix;
            return id.Length <= MaxIdLength ? id : id.Substring(0, MaxIdLength);
        }

        public static LifecycleRule Desired(string prefix, int days) => new LifecycleRule
        {
            Id = RuleId(prefix),
            Status = LifecycleRuleStatus.Enabled,
            Filter = new LifecycleFilter { Prefix = prefix },
            Expiration = new LifecycleRuleExpiration { Days = days },
            AbortIncompleteMultipartUpload = new LifecycleRuleAbortIncompleteMultipartUpload { DaysAfterInitiation = AbortIncompleteUploadDays },
        };

        /// <summary>True when <paramref name="rules"/> already hold our rule for the prefix, as <see cref="Desired"/> would write it.</summary>
        public static bool Matches(IEnumerable<LifecycleRule>? rules, string prefix, int days)
        {
            var rule = rules?.FirstOrDefault(r => string.Equals(r.Id, RuleId(prefix), StringComparison.Ordinal));
            return rule != null
                && rule.Status == LifecycleRuleStatus.Enabled
                && string.Equals(RulePrefix(rule), prefix, StringComparison.Ordinal)
                && rule.Expiration?.Days == days
                && rule.Expiration?.Date == null
                && rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation == AbortIncompleteUploadDays
                && (rule.Filter?.Tag == null && rule.Filter?.And == null)
                && (rule.Transitions == null || rule.Transitions.Count == 0);
        }

        /// <summary>The bucket's rules with ours replaced or added (the others unchanged, in their order).</summary>
        public static List<LifecycleRule> Merge(IEnumerable<LifecycleRule>? rules, string prefix, int days)
        {
            var id = RuleId(prefix);
            var merged = (rules ?? Enumerable.Empty<LifecycleRule>()).Where(r => !string.Equals(r.Id, id, StringComparison.Ordinal)).ToList();
            merged.Add(Desired(prefix, days));
            return merged;
        }

        /// <summary>The prefix a rule filters on: the filter's, else the legacy rule-level one.</summary>
        internal static string? RulePrefix(LifecycleRule rule)
        {
            if (rule.Filter != null)
            {
                if (rule.Filter.Prefix != null)
                {
                    return rule.Filter.Prefix;
                }

                if (rule.Filter.LifecycleFilterPredicate is LifecyclePrefixPredicate predicate)
                {
                    return predicate.Prefix;
                }

                return rule.Filter.Tag == null && rule.Filter.And == null ? string.Empty : null;
            }

#pragma warning disable CS0618 // the legacy rule-level prefix of rules written by older tools
            return rule.Prefix;
#pragma warning restore CS0618
        }
    }
}
