namespace EcrCache.Options
{
    /// <summary>
    /// Where images are cached: the provider, the registry and repository, and the options of the provider chosen
    /// (EcrOptions.cs, GarOptions.cs, TarballOptions.cs). ProviderOptions then checks the options the provider ignores.
    /// </summary>
    internal static class StoreOptions
    {
        /// <summary>The providers as EcrCacheProvider spells them, in the order of <see cref="ProviderKind"/>.</summary>
        public static readonly string[] Providers = new[] { "local", "registry", "ecr", "gar", "gcr", "s3", "directory" };

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            var provider = (Validate.Trimmed(raw["Provider"]) ?? "local").ToLowerInvariant();
            var index = Array.IndexOf(Providers, provider);
            if (index < 0)
            {
                throw new EcrCacheException(DiagnosticIds.UnknownProvider, raw["Provider"], string.Join(", ", Providers));
            }

            options.Provider = (ProviderKind)index;
            options.RegistryInsecure = Validate.Bool("EcrCacheRegistryInsecure", raw["RegistryInsecure"], false);
            var registry = Validate.Trimmed(raw["Registry"])?.TrimEnd('/');
            options.Registry = registry == null ? null : Validate.Grammar(registry, Validate.RegistryHost, DiagnosticIds.BadRegistryHost);

            if (options.Provider == ProviderKind.Registry && options.Registry == null)
            {
                throw new EcrCacheException(DiagnosticIds.RegistryRequired);
            }

            var repository = Validate.Blank(raw["Repository"]) ?? DefaultRepository(raw.ProjectName, raw.Environment);
            if (!Validate.RepositoryName.IsMatch(repository) || repository.Length > 255)
            {
                throw new EcrCacheException(DiagnosticIds.BadRepositoryName, repository);
            }

            options.Repository = repository;
            switch (options.Provider)
            {
                case ProviderKind.Ecr:
                    EcrOptionsParser.Apply(raw, options);
                    break;
                case ProviderKind.Gar:
                case ProviderKind.Gcr:
                    options.Gar = GarOptionsParser.Parse(raw, options, gcrNaming: options.Provider == ProviderKind.Gcr);
                    break;
                case ProviderKind.S3:
                case ProviderKind.Directory:
                    TarballOptionsParser.Apply(raw, options);
                    break;
            }

        }

        public static string DefaultRepository(string projectName, Func<string, string?> environment)
        {
            var org = environment("BUILDKITE_ORGANIZATION_SLUG");
            var pipeline = environment("BUILDKITE_PIPELINE_SLUG");
            if (!string.IsNullOrEmpty(org) && !string.IsNullOrEmpty(pipeline))
            {
                return "build-cache/" + org + "/" + pipeline;
            }

            return "build-cache/" + projectName.ToLowerInvariant();
        }
    }
}
