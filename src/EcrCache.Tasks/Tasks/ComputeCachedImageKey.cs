using EcrCache.Core;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ComputeCachedImageKey: hashes the inputs into the content key and writes key.txt and key-manifest.json; unchanged
    /// inputs are not hashed again (the input stamp).
    /// </summary>
    public sealed class ComputeCachedImageKey : PipelineStepTask
    {
        private protected override string PreviousStep => "ReadCachedImageOptions";

        /// <summary>
        /// Key with the daemon platform the last ensured run saw on the same daemon (no 'docker version'): set when the
        /// pull-or-build step runs, which checks it. On its own the step asks docker.
        /// </summary>
        public bool TrustEnsuredPlatform { get; set; }

        /// <summary>obj/ecrcache/key-manifest.json: every input of the key.</summary>
        [Output]
        public string? KeyManifest { get; private set; }

        private protected override void Run(CacheEngine engine, IBuildLog log, CancellationToken cancellationToken)
        {
            var key = engine.ComputeKeyStepAsync(TrustEnsuredPlatform, cancellationToken).GetAwaiter().GetResult();
            KeyManifest = Path.Combine(engine.Options.IntermediateDirectory, CacheEngine.ManifestFileName);
            if (!TrustEnsuredPlatform)
            {
                log.Important("EcrCache key: " + key.Hash + " (tag " + key.Tag + ")");
            }
        }
    }
}
