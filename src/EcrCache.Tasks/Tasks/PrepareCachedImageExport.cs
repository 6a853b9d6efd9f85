using EcrCache.Logging;
using EcrCache.Options;

namespace EcrCache.Tasks
{
    /// <summary>
    /// The first half of the export step: parses the export options (Options/ExportOptions.cs) before anything is pulled
    /// or built, so that a variable that cannot be exported or an env file that cannot be written fails the build while
    /// it is still cheap. ExportCachedImage uses what it parsed.
    /// </summary>
    public sealed class PrepareCachedImageExport : CacheStepTask
    {
        public string? Pipeline { get; set; }

        public string? ExportEnvVariable { get; set; }

        public string? EnvFile { get; set; }

        public string? MetadataKey { get; set; }

        public string? BuildkiteAgentPath { get; set; }

        public string? MetadataTimeout { get; set; }

        private protected override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var engine = Resume(Pipeline, "ComputeCachedImageKey", log);
            OptionsParser.Apply(ReadParameters(), engine.Options, OptionsParser.Step.Export, log);
        }
    }
}
