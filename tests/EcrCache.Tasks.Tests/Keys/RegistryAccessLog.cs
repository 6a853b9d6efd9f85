namespace EcrCache.Tasks.Tests.Keys
{
    /// <summary>Reads a docker-registry's access log (combined log format: <c>"HEAD /v2/repo/manifests/tag HTTP/1.1" 200 ...</c>).</summary>
    internal static class RegistryAccessLog
    {
        /// <summary>Requests with <paramref name="method"/> whose path is exactly <paramref name="path"/> (no query).</summary>
        public static int Count(string file, string path, string method)
        {
            var needle = "\"" + method + " " + path + " HTTP/";
            return ReadShared(file).Count(l => l.Contains(needle, StringComparison.Ordinal));
        }

        /// <summary>Lines of the log that mention <paramref name="text"/>.</summary>
        public static IReadOnlyList<string> Lines(string file, string text) =>
            ReadShared(file).Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();

        /// <summary>The log is written by the running registry: open it without locking it out.</summary>
        private static IEnumerable<string> ReadShared(string file)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var lines = new List<string>();
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                lines.Add(line);
            }

            return lines;
        }
    }
}
