using System.Text;
using System.Text.Json;
using EcrCache.Registries.Oci;

namespace EcrCache.Leases
{
    /// <summary>
    /// Build leases as registry tags: <c>&lt;tag&gt;-lease</c> in the image's repository points at a tiny OCI
    /// manifest (the empty config blob <c>{}</c>, no layers) whose annotation <c>dev.ecrcache.lease</c> holds the
    /// <see cref="LeaseRecord"/> JSON. A registry has no compare-and-set, so the coordinator writes, waits a moment and
    /// reads back: whoever's id is there won. Releasing overwrites the tag with a released record (registries often
    /// refuse deletes). The lease tag is not an image: pulling it fails, and lifecycle policies may expire it.
    /// </summary>
    internal sealed class RegistryLeaseBackend : ILeaseBackend
    {
        public const string TagSuffix = "-lease";
        public const string Annotation = "dev.ecrcache.lease";
        public const string EmptyMediaType = "application/vnd.oci.empty.v1+json";
        private static readonly byte[] EmptyConfig = Encoding.UTF8.GetBytes("{}");

        private readonly RegistryClient _client;
        private readonly string _repository;
        private readonly string _where;
        private bool _configPushed;

        public RegistryLeaseBackend(RegistryClient client, string repository, string where)
        {
            _client = client;
            _repository = repository;
            _where = where;
        }

        public bool NeedsSettleDelay => true;

        public static string LeaseTag(string tag) => tag + TagSuffix;

        public string Describe(string tag) => "lease tag " + _repository + ":" + LeaseTag(tag) + " in " + _where;

        public async Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken)
        {
            var head = await _client.HeadManifestAsync(_repository, LeaseTag(tag), cancellationToken).ConfigureAwait(false);
            if (head == null)
            {
                return null;
            }

            var (_, body, _) = await _client.GetManifestAsync(_repository, LeaseTag(tag), cancellationToken).ConfigureAwait(false);
            try
            {
                using var document = JsonDocument.Parse(body);
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("annotations", out var annotations)
                    && annotations.ValueKind == JsonValueKind.Object
                    && annotations.TryGetProperty(Annotation, out var value)
                    && value.ValueKind == JsonValueKind.String)
                {
                    return LeaseRecord.FromJson(value.GetString());
                }
            }
            catch (JsonException)
            {
                // Not ours: treated as no lease.
            }

            return null;
        }

        public async Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken)
        {
            if (!_configPushed)
            {
                await _client.PushBlobAsync(_repository, EmptyConfig, cancellationToken).ConfigureAwait(false);
                _configPushed = true;
            }

            await _client.PutManifestAsync(_repository, LeaseTag(tag), ManifestMediaTypes.OciManifest, Manifest(record), cancellationToken).ConfigureAwait(false);
            return true;
        }

        internal static byte[] Manifest(LeaseRecord record)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteNumber("schemaVersion", 2);
                writer.WriteString("mediaType", ManifestMediaTypes.OciManifest);
                writer.WriteString("artifactType", "application/vnd.ecrcache.lease.v1+json");
                writer.WritePropertyName("config");
                writer.WriteStartObject();
                writer.WriteString("mediaType", EmptyMediaType);
                writer.WriteString("digest", RegistryClient.ComputeDigest(EmptyConfig));
                writer.WriteNumber("size", EmptyConfig.Length);
                writer.WriteEndObject();
                writer.WritePropertyName("layers");
                writer.WriteStartArray();
                writer.WriteEndArray();
                writer.WritePropertyName("annotations");
                writer.WriteStartObject();
                writer.WriteString(Annotation, record.ToJson());
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            return buffer.ToArray();
        }
    }
}
