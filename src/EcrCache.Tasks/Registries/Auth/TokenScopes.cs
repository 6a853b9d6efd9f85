using EcrCache.Registries.Oci;

namespace EcrCache.Registries.Auth
{
    /// <summary>The scopes a bearer token is asked for (distribution token spec, "scope" parameter).</summary>
    internal static class TokenScopes
    {
        /// <summary>
        /// The scopes to ask a token server for: those of the challenge plus <c>repository:&lt;repo&gt;:&lt;actions&gt;</c>,
        /// with the actions of scopes on the same resource merged (e.g. <c>pull</c> and <c>pull,push</c>).
        /// </summary>
        public static IReadOnlyList<string> Merge(string? challengeScope, string? repository, RegistryAccess access)
        {
            var order = new List<string>();
            var actions = new Dictionary<string, List<string>>(StringComparer.Ordinal);

            void Add(string scope)
            {
                // type:name:actions; the name may itself contain ':' (e.g. a port), the actions never do.
                var first = scope.IndexOf(':');
                var last = scope.LastIndexOf(':');
                string resource;
                string[] acts;
                if (first < 0 || last == first)
                {
                    resource = scope;
                    acts = new string[0];
                }
                else
                {
                    resource = scope.Substring(0, last);
                    acts = scope.Substring(last + 1).Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries);
                }

                if (!actions.TryGetValue(resource, out var list))
                {
                    list = new List<string>();
                    actions.Add(resource, list);
                    order.Add(resource);
                }

                foreach (var a in acts)
                {
                    if (!list.Contains(a))
                    {
                        list.Add(a);
                    }
                }
            }

            if (!string.IsNullOrEmpty(challengeScope))
            {
                foreach (var scope in challengeScope!.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    Add(scope);
                }
            }

            if (repository != null)
            {
                Add("repository:" + repository + ":" + ((access & RegistryAccess.Push) != 0 ? "pull,push" : "pull"));
            }

            var result = new List<string>();
            foreach (var resource in order)
            {
                var list = actions[resource];
                result.Add(list.Count == 0 ? resource : resource + ":" + string.Join(",", list));
            }

            return result;
        }
    }
}
