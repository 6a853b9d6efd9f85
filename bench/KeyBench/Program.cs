using EcrCache.Core;
// KeyBench: times EcrCache's key computation in-process, without MSBuild.
//
//   KeyBench --root DIR (--include GLOB ... [--exclude GLOB ...] | --list FILE) [--limit N]
//            [--dockerfile PATH] [--platform P] [--repeat K] [--parallelism P]
//   KeyBench --engine PROJECT --docker PATH --root DIR (--include ... | --list FILE)
//
// --engine goes through the task's own path instead of calling Compute directly: RawOptions with one RawItem per file
// (FullPath metadata, as the MSBuild task passes them) -> OptionsParser.Parse (parse_ms: per-file checks and the
// unmatched-pattern warning, which reads PROJECT) -> CacheEngine.ComputeKeyAsync (engine_ms: 'docker version', Compute,
// writing key.txt and key-manifest.json under DIR/obj/ecrcache-keybench). What the MSBuild task adds on top of these
// is the item marshalling (ITaskItem metadata) only.
//
// Globs are relative to --root with MSBuild semantics (** spans folders, * and ? do not). --list names files relative
// to --root, one per line. --limit keeps the first N files in ordinal order. Prints key=value lines:
//   files, glob_ms (file enumeration + matching, or reading the list), compute_ms (CacheKeyCalculator.Compute, first
//   call), compute_ms_<i> for --repeat > 1 (later calls, JIT warm), alloc_bytes (managed allocations during the first
//   Compute), retained_bytes (managed heap still live after it, the key and its manifest), rss_before_compute_kb (VmRSS), compute_hwm_kb (VmHWM over the first Compute: the peak counter is reset
//   just before it when the kernel allows), key, bytes (total size of the files, measured after timing).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using EcrCache.Keys;

internal static class Program
{
    private static int Main(string[] args)
    {
        string? root = null, list = null, dockerfile = null;
        var includes = new List<string>();
        var excludes = new List<string>();
        var limit = int.MaxValue;
        var repeat = 1;
        var parallelism = 0;
        var platform = "linux/amd64";
        string? engineProject = null, docker = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
            switch (args[i])
            {
                case "--root": root = Next(); break;
                case "--include": includes.Add(Next()); break;
                case "--exclude": excludes.Add(Next()); break;
                case "--list": list = Next(); break;
                case "--limit": limit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--dockerfile": dockerfile = Next(); break;
                case "--platform": platform = Next(); break;
                case "--repeat": repeat = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--parallelism": parallelism = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--engine": engineProject = Next(); break;
                case "--docker": docker = Next(); break;
                default:
                    Console.Error.WriteLine("unknown argument " + args[i]);
                    return 2;
            }
        }

        if (root == null || (includes.Count == 0) == (list == null))
        {
            Console.Error.WriteLine("usage: KeyBench --root DIR (--include GLOB... [--exclude GLOB...] | --list FILE) [--limit N] [--dockerfile PATH] [--repeat K] [--parallelism P]");
            return 2;
        }

        root = Path.GetFullPath(root);
        var sw = Stopwatch.StartNew();
        List<string> relative;
        if (list != null)
        {
            // Only the first --limit lines (the list is sorted), so a long list does not inflate the RSS figures.
            relative = File.ReadLines(list).Where(l => l.Length > 0).Take(limit).ToList();
        }
        else
        {
            relative = Glob(root, includes, excludes);
        }

        relative.Sort(StringComparer.Ordinal);
        if (relative.Count > limit)
        {
            relative.RemoveRange(limit, relative.Count - limit);
        }

        var globMs = sw.Elapsed.TotalMilliseconds;
        if (engineProject != null)
        {
            return RunEngine(root, relative, globMs, Path.GetFullPath(engineProject), docker ?? "docker", dockerfile);
        }

        var inputs = new KeyInputs { Platform = platform };
        if (dockerfile != null)
        {
            inputs.DockerfilePath = Path.GetFullPath(dockerfile);
        }
        else
        {
            inputs.DockerfileInline = "FROM busybox\n";
        }

        foreach (var rel in relative)
        {
            inputs.CacheOn.Add(new CacheOnInput(Path.Combine(root, rel), rel));
        }

        var heapBefore = GC.GetTotalMemory(true);
        var rssBefore = ReadStatusKb("VmRSS");
        var hwmReset = ResetPeakRss();
        var allocBefore = GC.GetTotalAllocatedBytes(true);
        sw.Restart();
        var key = CacheKeyCalculator.Compute(inputs, default, parallelism);
        var computeMs = sw.Elapsed.TotalMilliseconds;
        var alloc = GC.GetTotalAllocatedBytes(true) - allocBefore;
        var hwm = ReadStatusKb("VmHWM");
        var retained = GC.GetTotalMemory(true) - heapBefore;
        GC.KeepAlive(key);

        var output = new StringBuilder();
        void Put(string name, object value) => output.Append(name).Append('=').Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\n');
        Put("files", relative.Count);
        Put("glob_ms", globMs.ToString("0.0", CultureInfo.InvariantCulture));
        Put("compute_ms", computeMs.ToString("0.0", CultureInfo.InvariantCulture));
        for (var r = 1; r < repeat; r++)
        {
            sw.Restart();
            var again = CacheKeyCalculator.Compute(inputs, default, parallelism);
            Put("compute_ms_" + r, sw.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture));
            if (again.Hash != key.Hash)
            {
                Console.Error.WriteLine("the key changed between runs");
                return 1;
            }
        }

        Put("alloc_bytes", alloc);
        Put("retained_bytes", retained);
        Put("rss_before_compute_kb", rssBefore);
        Put("compute_hwm_kb", hwmReset ? hwm : -1);
        Put("key", key.Hash);
        Put("bytes", relative.Sum(r => new FileInfo(Path.Combine(root, r)).Length));
        Console.Out.Write(output.ToString());
        return 0;
    }

    private static int RunEngine(string root, List<string> relative, double globMs, string project, string docker, string? dockerfile)
    {
        var raw = new EcrCache.Options.RawOptions
        {
            ProjectDirectory = root,
            ProjectName = Path.GetFileNameWithoutExtension(project),
            ProjectFile = project,
            IntermediateDirectory = Path.Combine(root, "obj", "ecrcache-keybench"),
            ["Dockerfile"] = dockerfile != null ? Path.GetFullPath(dockerfile) : Path.Combine(root, "Dockerfile"),
            ["DockerPath"] = docker,
            ["Provider"] = "local",
            ["Repository"] = "build-cache/keybench",
        };
        foreach (var rel in relative)
        {
            var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["JsonPath"] = "",
                ["FullPath"] = Path.Combine(root, rel),
            };
            raw.CacheOn.Add(new EcrCache.Options.RawItem(rel, metadata));
        }

        var sw = Stopwatch.StartNew();
        var options = EcrCache.Options.OptionsParser.Parse(raw, EcrCache.Logging.NullBuildLog.Instance);
        var parseMs = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        var engine = new EcrCache.Core.CacheEngine(options, EcrCache.Logging.NullBuildLog.Instance);
        var key = engine.ComputeKeyAsync(default).GetAwaiter().GetResult();
        var engineMs = sw.Elapsed.TotalMilliseconds;
        Console.Out.Write(
            "files=" + relative.Count + "\n" +
            "glob_ms=" + globMs.ToString("0.0", CultureInfo.InvariantCulture) + "\n" +
            "parse_ms=" + parseMs.ToString("0.0", CultureInfo.InvariantCulture) + "\n" +
            "engine_ms=" + engineMs.ToString("0.0", CultureInfo.InvariantCulture) + "\n" +
            "key=" + key.Hash + "\n");
        return 0;
    }

    /// <summary>MSBuild-style glob: the literal leading folders are the walk's root; the rest is matched as a regex.</summary>
    private static List<string> Glob(string root, List<string> includes, List<string> excludes)
    {
        var excludeRegexes = excludes.Select(CacheOnPatterns.ToRegex).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var include in includes)
        {
            var pattern = include.Replace('\\', '/').TrimStart('/');
            var segments = pattern.Split('/');
            var fixedCount = 0;
            while (fixedCount < segments.Length - 1 && segments[fixedCount].IndexOfAny(new[] { '*', '?' }) < 0)
            {
                fixedCount++;
            }

            var baseRel = string.Join("/", segments.Take(fixedCount));
            var rest = string.Join("/", segments.Skip(fixedCount));
            var baseDir = baseRel.Length == 0 ? root : Path.Combine(root, baseRel);
            if (rest.IndexOfAny(new[] { '*', '?' }) < 0)
            {
                var single = Path.Combine(baseDir, rest);
                if (File.Exists(single))
                {
                    Add(pattern);
                }

                continue;
            }

            if (!Directory.Exists(baseDir))
            {
                continue;
            }

            var recursive = rest.Contains('/') || rest.Contains("**");
            var regex = CacheOnPatterns.ToRegex(rest);
            var options = new EnumerationOptions { RecurseSubdirectories = recursive, IgnoreInaccessible = true, AttributesToSkip = 0 };
            foreach (var full in Directory.EnumerateFiles(baseDir, "*", options))
            {
                var relToBase = Path.GetRelativePath(baseDir, full).Replace('\\', '/');
                if (regex.IsMatch(relToBase))
                {
                    Add(baseRel.Length == 0 ? relToBase : baseRel + "/" + relToBase);
                }
            }
        }

        return result;

        void Add(string rel)
        {
            if (!excludeRegexes.Any(r => r.IsMatch(rel)) && seen.Add(rel))
            {
                result.Add(rel);
            }
        }
    }


    private static long ReadStatusKb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line.Substring(field.Length + 1).Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    /// <summary>Resets the process's peak RSS counter (VmHWM) so it measures from here on (Linux: clear_refs 5).</summary>
    private static bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
        {
            return false;
        }
    }
}
