namespace EcrCache.Exports
{
    /// <summary>
    /// Variables the Buildkite agent's Job API refuses to set. A PATCH that names one of them is refused whole (422),
    /// so exporting the image under such a name would lose every exported variable, not just that one.
    /// </summary>
    /// <remarks>
    /// The union over the agents that have the Job API (3.64 and later), from the agent's source: its protected
    /// environment list (<c>ProtectedEnv</c> in agent/job_runner.go, later env/environment.go and env/protected.go)
    /// without the entries it lets a job change from within (BUILDKITE_REPO, BUILDKITE_REFSPEC,
    /// BUILDKITE_ARTIFACT_PATHS, BUILDKITE_ARTIFACT_UPLOAD_DESTINATION, BUILDKITE_PLUGINS_ALWAYS_CLONE_FRESH), plus
    /// the checkout variables that its strict checkout-override mode locks (that mode is forced when command eval is
    /// off). None of them is a sensible home for an image reference, so refusing all of them costs nothing.
    /// On Windows the agent compares names in upper case, so we do too.
    /// </remarks>
    internal static class BuildkiteProtectedVariables
    {
        private static readonly HashSet<string> Names = new HashSet<string>(StringComparer.Ordinal)
        {
            "BUILDKITE_AGENT_ACCESS_TOKEN",
            "BUILDKITE_AGENT_DEBUG",
            "BUILDKITE_AGENT_ENDPOINT",
            "BUILDKITE_AGENT_JOB_TIMEOUT_FILE",
            "BUILDKITE_AGENT_PID",
            "BUILDKITE_BIN_PATH",
            "BUILDKITE_BUILD_PATH",
            "BUILDKITE_CHECKOUT_OVERRIDE_MODE",
            "BUILDKITE_COMMAND_EVAL",
            "BUILDKITE_CONFIG_PATH",
            "BUILDKITE_CONTAINER_COUNT",
            "BUILDKITE_GIT_CLONE_MIRROR_FLAGS",
            "BUILDKITE_GIT_MIRRORS_LOCK_TIMEOUT",
            "BUILDKITE_GIT_MIRRORS_PATH",
            "BUILDKITE_GIT_MIRRORS_SKIP_UPDATE",
            "BUILDKITE_GIT_MIRROR_CHECKOUT_MODE",
            "BUILDKITE_GIT_REMOTE_MIRROR_URL",
            "BUILDKITE_GIT_SUBMODULE_CLONE_CONFIG",
            "BUILDKITE_HOOKS_PATH",
            "BUILDKITE_HOOKS_SHELL",
            "BUILDKITE_JOB_CONTEXT_DIR",
            "BUILDKITE_KUBERNETES_EXEC",
            "BUILDKITE_LOCAL_HOOKS_ENABLED",
            "BUILDKITE_PLUGINS_ENABLED",
            "BUILDKITE_PLUGINS_PATH",
            "BUILDKITE_SHELL",
            "BUILDKITE_SSH_KEYSCAN",

            // Checkout variables: protected outright before agent 3.124, locked by the strict checkout-override mode since.
            "BUILDKITE_GIT_CHECKOUT_FLAGS",
            "BUILDKITE_GIT_CHECKOUT_TIMEOUT",
            "BUILDKITE_GIT_CLEAN_FLAGS",
            "BUILDKITE_GIT_CLONE_FLAGS",
            "BUILDKITE_GIT_COMMIT_VERIFICATION",
            "BUILDKITE_GIT_FETCH_FLAGS",
            "BUILDKITE_GIT_SKIP_FETCH_EXISTING_COMMITS",
            "BUILDKITE_GIT_SPARSE_CHECKOUT_MODE",
            "BUILDKITE_GIT_SPARSE_CHECKOUT_PATHS",
            "BUILDKITE_GIT_SUBMODULES",
            "BUILDKITE_SKIP_CHECKOUT",
        };

        /// <summary>Every protected name, upper case.</summary>
        public static IEnumerable<string> All => Names;

        /// <summary>True when the agent's Job API would refuse to set <paramref name="name"/>.</summary>
        public static bool IsProtected(string name) => IsProtected(name, windows: Path.DirectorySeparatorChar == '\\');

        internal static bool IsProtected(string name, bool windows) =>
            name != null && Names.Contains(windows ? name.ToUpperInvariant() : name);
    }
}
