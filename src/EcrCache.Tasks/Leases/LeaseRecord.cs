using System.Globalization;
using System.Text.Json;

namespace EcrCache.Leases
{
    /// <summary>
    /// Who is building an image, and until when that claim holds. Stored as the content of a lease (a registry tag's
    /// manifest annotations, an S3 object, a lock file's sidecar). <see cref="Id"/> is unique per attempt, so a
    /// read-back proves whose write won.
    /// </summary>
    /// <param name="Released">The owner finished (or gave up) and let go: free for anyone.</param>
    internal sealed record LeaseRecord(string Id, string Host, int Pid, DateTimeOffset Acquired, DateTimeOffset Expires, bool Released = false)
    {
        public static LeaseRecord ForThisProcess(TimeSpan timeout)
        {
            var now = DateTimeOffset.UtcNow;
            return new LeaseRecord(Guid.NewGuid().ToString("N"), Environment.MachineName, CurrentPid, now, now + timeout);
        }

        /// <summary>This process's id (the holder a same-host waiter checks under /proc).</summary>
        public static int CurrentPid { get; } =
#if NETFRAMEWORK
            CurrentPidOnNetFramework();

        [System.Runtime.InteropServices.DllImport("kernel32.dll")]
        private static extern int GetCurrentProcessId();

        // .NET Framework has no Environment.ProcessId. It runs on Windows (Visual Studio's MSBuild), where kernel32 has
        // the call, or on Mono, where /proc/self/stat starts with the pid.
        private static int CurrentPidOnNetFramework()
        {
            try
            {
                return GetCurrentProcessId();
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                var stat = File.ReadAllText("/proc/self/stat");
                return int.Parse(stat.Substring(0, stat.IndexOf(' ')), CultureInfo.InvariantCulture);
            }
        }
#else
            Environment.ProcessId;
#endif

        /// <summary>The same lease, held for <paramref name="ttl"/> from now (the holder's heartbeat).</summary>
        public LeaseRecord Renewed(TimeSpan ttl) => this with { Expires = DateTimeOffset.UtcNow + ttl };

        public LeaseRecord AsReleased() => this with { Expires = DateTimeOffset.UtcNow, Released = true };

        /// <summary>Held by someone (not released, not expired) at <paramref name="now"/>.</summary>
        public bool IsHeldAt(DateTimeOffset now) => !Released && Expires > now;

        /// <summary>
        /// The owner is a process on this machine that no longer runs (checked through /proc; elsewhere unknown, so
        /// false). A lease left behind by a crashed build on the same host is taken over at once.
        /// </summary>
        public bool OwnerIsDeadOnThisHost()
        {
            if (!string.Equals(Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase) || Pid <= 0 || !Directory.Exists("/proc/self"))
            {
                return false;
            }

            return Pid != CurrentPid && !Directory.Exists("/proc/" + Pid.ToString(CultureInfo.InvariantCulture));
        }

        public string Describe() =>
            "pid " + Pid.ToString(CultureInfo.InvariantCulture) + " on " + Host + " (since " + Acquired.ToString("u", CultureInfo.InvariantCulture) + ", until " + Expires.ToString("u", CultureInfo.InvariantCulture) + ")";

        public string ToJson()
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("id", Id);
                writer.WriteString("host", Host);
                writer.WriteNumber("pid", Pid);
                writer.WriteString("acquired", Acquired.ToString("o", CultureInfo.InvariantCulture));
                writer.WriteString("expires", Expires.ToString("o", CultureInfo.InvariantCulture));
                writer.WriteBoolean("released", Released);
                writer.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        }

        /// <summary>Parses <see cref="ToJson"/>; null for anything else (a foreign or damaged lease counts as absent).</summary>
        public static LeaseRecord? FromJson(string? json)
        {
            if (string.IsNullOrWhiteSpace(json))
            {
                return null;
            }

            try
            {
                using var document = JsonDocument.Parse(json!);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                    || !root.TryGetProperty("expires", out var expires) || expires.ValueKind != JsonValueKind.String
                    || !DateTimeOffset.TryParse(expires.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var expiresAt))
                {
                    return null;
                }

                var host = root.TryGetProperty("host", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() ?? "?" : "?";
                var pid = root.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var n) ? n : 0;
                var acquired = root.TryGetProperty("acquired", out var a) && a.ValueKind == JsonValueKind.String
                    && DateTimeOffset.TryParse(a.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) ? at : expiresAt;
                var released = root.TryGetProperty("released", out var r) && r.ValueKind == JsonValueKind.True;
                return new LeaseRecord(id.GetString() ?? "", host, pid, acquired, expiresAt, released);
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}
