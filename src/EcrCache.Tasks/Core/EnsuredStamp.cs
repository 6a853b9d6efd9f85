using System.Collections;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using EcrCache.IO;
using EcrCache.Keys;
using EcrCache.Options;

namespace EcrCache.Core
{
    /// <summary>
    /// obj/ecrcache/ensured.json: what the last successful EnsureCachedImage made sure of (key, image, tag, reference,
    /// result, the daemon's platform, when). The no-op path reads it instead of asking anything remote:
    /// <list type="bullet">
    /// <item>the platform, trusted for the same docker client and daemon (<see cref="DaemonIdentity"/>), so no
    /// <c>docker version</c> runs;</item>
    /// <item>the image name (for ECR the repository URI), trusted while <see cref="StoreIdentity"/> is the same, so a local
    /// hit does not create the store (no DescribeRepositories, no docker config, no credentials).</item>
    /// </list>
    /// It is rewritten only when one of those changes or the result was not a local hit: a no-op writes nothing.
    /// </summary>
    internal sealed class EnsuredStamp
    {
        // AWS and Google settings that can change which registry and repository a store resolves to. The values are only
        // hashed (AWS_ACCESS_KEY_ID names the account's key; no secret is read here).
        private static readonly string[] StoreEnvironment =
        {
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_ACCESS_KEY_ID", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT",
            "HOME", "USERPROFILE",
        };

        private static readonly PropertyInfo[] OptionProperties =
            typeof(CacheOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();

        private EnsuredStamp(string path, string? text)
        {
            Path = path;
            Text = text;
        }

        public string Path { get; }

        /// <summary>The file's text as read, or null.</summary>
        public string? Text { get; }

        public string? Platform { get; private set; }

        private string? _store;
        private string? _image;

        public string? Key { get; private set; }

        /// <summary>The result of the run that wrote the stamp (for this daemon), e.g. built-not-pushed; null when unknown.</summary>
        public string? Result { get; private set; }

        /// <summary>Reads the stamp; fields that do not apply to this daemon are left null (the image: <see cref="ImageFor"/>).</summary>
        public static EnsuredStamp Read(string directory, string daemon, Action<string> detail)
        {
            var path = System.IO.Path.Combine(directory, CacheEngine.StampFileName);
            string? text = null;
            var stamp = new EnsuredStamp(path, null);
            try
            {
                if (!File.Exists(path))
                {
                    return stamp;
                }

                text = File.ReadAllText(path);
                stamp = new EnsuredStamp(path, text);
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || Get(root, "daemon") != daemon)
                {
                    return stamp;
                }

                stamp.Platform = Get(root, "platform");
                stamp.Key = Get(root, "key");
                stamp.Result = Get(root, "result");
                stamp._store = Get(root, "store");
                stamp._image = Get(root, "image");
            }
            catch (Exception ex) when (ex is IOException || ex is JsonException || ex is UnauthorizedAccessException || ex is InvalidOperationException)
            {
                detail("Ignoring unreadable stamp " + path + ": " + ex.Message);
            }

            return stamp;
        }

        /// <summary>The stamped image name if it was resolved for <paramref name="store"/> (a <see cref="StoreIdentity"/>), else null.</summary>
        public string? ImageFor(string? store) => store != null && _store == store ? _image : null;

        /// <summary>
        /// Records the result. A local hit that changes nothing the stamp holds (key, image, platform, daemon, store) leaves
        /// the file alone, so its result and time still describe the run that made the image available.
        /// </summary>
        public void Write(CacheResult result, string platform, string daemon, string? store)
        {
            if (result.Result == CacheResult.HitLocal && Text != null && Matches(result, platform, daemon, store))
            {
                return;
            }

            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                writer.WriteString("key", result.Key.Hash);
                writer.WriteString("image", result.Image);
                writer.WriteString("tag", result.Tag);
                writer.WriteString("reference", result.Reference);
                writer.WriteString("result", result.Result);
                writer.WriteString("platform", platform);
                writer.WriteString("daemon", daemon);
                if (store != null)
                {
                    writer.WriteString("store", store);
                }

                writer.WriteString("time", DateTimeOffset.UtcNow.ToString("o"));
                writer.WriteEndObject();
            }

            AtomicFile.WriteAllText(Path, Encoding.UTF8.GetString(buffer.ToArray()) + "\n");
        }

        /// <summary>
        /// A digest of every option that can change the store's image name (all of <see cref="CacheOptions"/> except the
        /// key inputs, which the tag covers) and of the cloud settings in the environment; null when an option has a type
        /// this does not understand (then the store is always created).
        /// </summary>
        public static string? StoreIdentity(CacheOptions options)
        {
            var text = new StringBuilder("store-identity 1\n");
            foreach (var property in OptionProperties)
            {
                if (property.Name == nameof(CacheOptions.CacheOn) || property.Name == nameof(CacheOptions.Environment))
                {
                    continue;
                }

                var value = property.GetValue(options);
                text.Append(property.Name).Append('=');
                switch (value)
                {
                    case null:
                        text.Append("(null)");
                        break;
                    case string s:
                        Append(text, s);
                        break;
                    case bool _:
                    case int _:
                    case long _:
                    case Enum _:
                        text.Append(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                        break;
                    case TimeSpan span:
                        text.Append(span.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        break;
                    case IEnumerable<KeyValuePair<string, string>> pairs:
                        foreach (var pair in pairs)
                        {
                            Append(text, pair.Key);
                            Append(text, pair.Value);
                        }

                        break;
                    case IEnumerable<string> strings:
                        foreach (var s in strings)
                        {
                            Append(text, s);
                        }

                        break;
                    case IEnumerable<SecretSpec> secrets:
                        foreach (var secret in secrets)
                        {
                            Append(text, secret.Spec);
                        }

                        break;
                    default:
                        return null;
                }

                text.Append('\n');
            }

            foreach (var name in StoreEnvironment)
            {
                text.Append(name).Append('=');
                Append(text, options.Environment(name));
                text.Append('\n');
            }

            using var sha = SHA256.Create();
            return Hex.ToLower(sha.ComputeHash(Encoding.UTF8.GetBytes(text.ToString())));
        }

        private bool Matches(CacheResult result, string platform, string daemon, string? store)
        {
            try
            {
                using var doc = JsonDocument.Parse(Text!);
                var root = doc.RootElement;
                return root.ValueKind == JsonValueKind.Object
                    && Get(root, "key") == result.Key.Hash
                    && Get(root, "image") == result.Image
                    && Get(root, "tag") == result.Tag
                    && Get(root, "reference") == result.Reference
                    && Get(root, "platform") == platform
                    && Get(root, "daemon") == daemon
                    && Get(root, "store") == store
                    && Get(root, "time") != null;
            }
            catch (JsonException)
            {
                return false;
            }
        }

        private static void Append(StringBuilder text, string? value)
        {
            if (value == null)
            {
                text.Append("-1:");
                return;
            }

            text.Append(value.Length).Append(':').Append(value);
        }

        private static string? Get(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
