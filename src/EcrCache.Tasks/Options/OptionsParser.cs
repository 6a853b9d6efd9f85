using EcrCache.Logging;

namespace EcrCache.Options
{
    /// <summary>
    /// Turns what the project wrote into validated <see cref="CacheOptions"/>, with coded errors. Each step task parses
    /// only its own concern into the options the pipeline shares (<see cref="Step"/>); <see cref="Parse"/> parses them
    /// all, as the whole EnsureCachedImage job needs them.
    /// </summary>
    internal static class OptionsParser
    {
        /// <summary>The concerns, in pipeline order; each is one file in this folder.</summary>
        [Flags]
        public enum Step
        {
            Inputs = 1,
            Store = 2,
            Build = 4,
            Export = 8,
            All = Inputs | Store | Build | Export,
        }

        public static CacheOptions Parse(RawOptions raw, IBuildLog log) => Parse(raw, Step.All, log);

        public static CacheOptions Parse(RawOptions raw, Step steps, IBuildLog log)
        {
            var options = Common(raw);
            Apply(raw, options, steps, log);
            return options;
        }

        /// <summary>Adds one or more concerns to options parsed earlier (a later step of the pipeline).</summary>
        public static void Apply(RawOptions raw, CacheOptions options, Step steps, IBuildLog log)
        {
            if ((steps & Step.Inputs) != 0)
            {
                InputOptions.Apply(raw, options, log);
            }

            if ((steps & Step.Store) != 0)
            {
                StoreOptions.Apply(raw, options, log);
            }

            if ((steps & Step.Build) != 0)
            {
                BuildOptions.Apply(raw, options, log);
            }

            if ((steps & Step.Export) != 0)
            {
                ExportOptions.Apply(raw, options);
            }
        }

        /// <summary>What every step has: the project, obj/ecrcache/, docker and the environment.</summary>
        private static CacheOptions Common(RawOptions raw) => new CacheOptions
        {
            ProjectDirectory = raw.ProjectDirectory,
            ProjectName = raw.ProjectName,
            IntermediateDirectory = Validate.FullPath(raw.ProjectDirectory, string.IsNullOrWhiteSpace(raw.IntermediateDirectory) ? Path.Combine("obj", "ecrcache") : raw.IntermediateDirectory),
            Environment = raw.Environment,
            DockerPath = Validate.Blank(raw["DockerPath"]) ?? "docker",
        };
    }
}
