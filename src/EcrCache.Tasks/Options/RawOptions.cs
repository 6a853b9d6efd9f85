namespace EcrCache.Options
{
    /// <summary>An item as MSBuild hands it over: the spec and its metadata, with no MSBuild types.</summary>
    internal sealed class RawItem
    {
        public RawItem(string itemSpec, IDictionary<string, string>? metadata = null)
        {
            ItemSpec = itemSpec;
            Metadata = metadata ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        public string ItemSpec { get; }

        /// <summary>Custom metadata that the item defines (present even when empty), plus FullPath where known.</summary>
        public IDictionary<string, string> Metadata { get; }

        public string? Get(string name) => Metadata.TryGetValue(name, out var value) ? value : null;

        public bool Has(string name) => Metadata.ContainsKey(name);
    }

    /// <summary>
    /// Property values and items exactly as the project gave them; the parsers in this folder validate them. A step task
    /// puts each of its string parameters here under the parameter's own name (<c>raw[name]</c> is the task's
    /// parameter Name, which Sdk.targets fills from <c>$(EcrCacheName)</c>), so an option is declared once, on the
    /// task that takes it, and read once, by its parser line. The project's identity and the items are typed because
    /// every step has them.
    /// </summary>
    internal sealed class RawOptions
    {
        private readonly Dictionary<string, string?> _values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);

        public string ProjectDirectory { get; set; } = "";
        public string ProjectName { get; set; } = "";
        public string? ProjectFile { get; set; }
        public string IntermediateDirectory { get; set; } = "";
        public IList<RawItem> CacheOn { get; } = new List<RawItem>();
        public IList<RawItem> BuildArgs { get; } = new List<RawItem>();
        public IList<RawItem> Secrets { get; } = new List<RawItem>();
        public IList<RawItem> EcrTags { get; } = new List<RawItem>();

        /// <summary>ImageTag items (extra tags), with the file that declared each.</summary>
        public IList<RawItem> ImageTags { get; } = new List<RawItem>();
        public Func<string, string?> Environment { get; set; } = System.Environment.GetEnvironmentVariable;

        /// <summary>A parameter's value as given (null when not given); the name is the task parameter's.</summary>
        public string? this[string name]
        {
            get => _values.TryGetValue(name, out var value) ? value : null;
            set => _values[name] = value;
        }

        /// <summary>
        /// True when Sdk.targets supplied the value of <paramref name="property"/> (the SdkDefaults parameter lists the
        /// EcrCache* properties it defaulted): such a value was not chosen by the user, so it never makes a warning.
        /// </summary>
        public bool IsSdkDefault(string property)
        {
            var defaults = this["SdkDefaults"];
            return !string.IsNullOrEmpty(defaults)
                && defaults!.Split(';').Any(name => string.Equals(name.Trim(), property, StringComparison.OrdinalIgnoreCase));
        }
    }
}
