namespace EcrCache.Options
{
    /// <summary>
    /// Turns what the project wrote into validated <see cref="CacheOptions"/>, with coded errors: every concern's parser
    /// (one file each in this folder), then the options the provider ignores. All of it runs before any step does work,
    /// so a bad value of any option fails the build while it is still cheap.
    /// </summary>
    internal static class OptionsParser
    {
        public static CacheOptions Parse(RawOptions raw, IBuildLog log)
        {
            var options = new CacheOptions
            {
                ProjectDirectory = raw.ProjectDirectory,
                ProjectName = raw.ProjectName,
                ProjectFile = raw.ProjectFile,
                IntermediateDirectory = Validate.FullPath(raw.ProjectDirectory, string.IsNullOrWhiteSpace(raw.IntermediateDirectory) ? Path.Combine("obj", "ecrcache") : raw.IntermediateDirectory),
                Environment = raw.Environment,
                DockerPath = Validate.Blank(raw["DockerPath"]) ?? "docker",
            };
            InputOptions.Apply(raw, options, log);
            StoreOptions.Apply(raw, options);
            BuildOptions.Apply(raw, options);
            TagOptions.Apply(raw, options, log);
            ExportOptions.Apply(raw, options);
            RetentionOptions.Apply(raw, options);
            ImageLabelOptions.Apply(raw, options);
            ProviderOptions.Apply(raw, options, log);
            return options;
        }
    }
}
