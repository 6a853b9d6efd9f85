using EcrCache.Core;
using EcrCache.Diagnostics;

namespace EcrCache.Exports
{
    /// <summary>
    /// The export options that need Buildkite knowledge. Called once from <see cref="OptionsParser"/>, after it has
    /// checked that <see cref="CacheOptions.ExportEnvVariable"/> is a variable name.
    /// </summary>
    public static class ExportOptionsParser
    {
        public static void Apply(RawOptions raw, CacheOptions options)
        {
            if (BuildkiteProtectedVariables.IsProtected(options.ExportEnvVariable))
            {
                throw new EcrCacheException(DiagnosticIds.ProtectedExportVariable, options.ExportEnvVariable);
            }
        }
    }
}
