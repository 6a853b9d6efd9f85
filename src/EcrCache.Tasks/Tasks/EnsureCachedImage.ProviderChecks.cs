using EcrCache.Core;

namespace EcrCache.Tasks
{
    /// <summary>The parameters of the provider checks (Core/ProviderOptions.cs).</summary>
    public sealed partial class EnsureCachedImage
    {
        /// <summary>The EcrCache* properties Sdk.targets defaulted (';'-separated): values the user did not choose.</summary>
        public string? SdkDefaults { get; set; }

        private void CopyProviderChecks(RawOptions raw)
        {
            raw.SdkDefaults = SdkDefaults;
        }
    }
}
