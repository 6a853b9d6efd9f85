using EcrCache.Core;
using EcrCache.Logging;
using EcrCache.Options;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ComputeCachedImageKey: parses the inputs (Options/InputOptions.cs, KeyFeatureOptions.cs), hashes them into the
    /// content key and writes key.txt and key-manifest.json; unchanged inputs are not hashed again (the input stamp).
    /// Starts the pipeline that the later steps continue through <see cref="Pipeline"/>.
    /// </summary>
    public sealed class ComputeCachedImageKey : CacheStepTask
    {
        /// <summary>The CacheOn metadata the parser reads (add new ones here).</summary>
        private static readonly string[] CacheOnMetadata = { "JsonPath", "Optional" };

        public string? Dockerfile { get; set; }

        public string? DockerfileInline { get; set; }

        public string? Context { get; set; }

        public string? Target { get; set; }

        public string? AdditionalBuildArgs { get; set; }

        public string? Platform { get; set; }

        /// <summary>true, false or BestEffort.</summary>
        public string? BaseImageDigests { get; set; }

        public string? BaseImageDigestsCacheMinutes { get; set; }

        public string? RegistryMirrors { get; set; }

        public string? ComposeFile { get; set; }

        public string? ComposeService { get; set; }

        public ITaskItem[] CacheOn { get; set; } = Array.Empty<ITaskItem>();

        public ITaskItem[] BuildArgs { get; set; } = Array.Empty<ITaskItem>();

        public ITaskItem[] Secrets { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>
        /// Key with the daemon platform the last ensured run saw on the same daemon (no 'docker version'): set when the
        /// whole pipeline runs, whose pull-or-build step checks it. On its own the step asks docker.
        /// </summary>
        public bool TrustEnsuredPlatform { get; set; }

        /// <summary>ExplainCachedImageKey: print the manifest and the changes; no docker, no registry, nothing written.</summary>
        public bool Explain { get; set; }

        [Output]
        public string? Key { get; private set; }

        [Output]
        public string? Tag { get; private set; }

        /// <summary>obj/ecrcache/key-manifest.json: every input of the key.</summary>
        [Output]
        public string? KeyManifest { get; private set; }

        /// <summary>Names the pipeline for the next steps (their Pipeline parameter).</summary>
        [Output]
        public string? Pipeline { get; private set; }

        private protected override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var raw = ReadParameters();
            CopyCacheOn(CacheOn, raw.CacheOn);
            CopyItems(BuildArgs, raw.BuildArgs);
            CopyItems(Secrets, raw.Secrets);
            var engine = new CacheEngine(OptionsParser.Parse(raw, OptionsParser.Step.Inputs, log), log);
            if (Explain)
            {
                var explained = engine.ExplainAsync(cancellationToken).GetAwaiter().GetResult();
                Key = explained.Hash;
                Tag = explained.Tag;
                return;
            }

            var key = engine.ComputeKeyStepAsync(TrustEnsuredPlatform, cancellationToken).GetAwaiter().GetResult();
            Key = key.Hash;
            Tag = key.Tag;
            KeyManifest = Path.Combine(engine.Options.IntermediateDirectory, CacheEngine.ManifestFileName);
            Pipeline = Register(engine);
            if (!TrustEnsuredPlatform)
            {
                log.Important("EcrCache key: " + key.Hash + " (tag " + key.Tag + ")");
            }
        }

        /// <summary>
        /// CacheOn items can number tens of thousands: copy only the metadata the parser reads (FullPath and the
        /// <see cref="CacheOnMetadata"/> names), not every item's whole metadata table.
        /// </summary>
        private static void CopyCacheOn(ITaskItem[] items, IList<RawItem> target)
        {
            foreach (var item in items)
            {
                var metadata = new Dictionary<string, string>(CacheOnMetadata.Length + 1, StringComparer.OrdinalIgnoreCase)
                {
                    ["FullPath"] = item.GetMetadata("FullPath"),
                };
                foreach (var name in CacheOnMetadata)
                {
                    var value = item.GetMetadata(name);
                    if (!string.IsNullOrEmpty(value))
                    {
                        metadata[name] = value;
                    }
                }

                target.Add(new RawItem(item.ItemSpec, metadata));
            }
        }
    }
}
