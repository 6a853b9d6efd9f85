using EcrCache.Keys;
using EcrCache.Options;

namespace EcrCache.Core
{
    /// <summary>
    /// The reference plugin's <c>cache-on: path#.jsonpath</c> syntax, as a shorthand for JsonPath metadata:
    /// <list type="bullet">
    /// <item>a literal <c>package.json#.dependencies</c> reaches the task as an item whose spec has the '#': it is
    /// split into the file and the JsonPath (unless a file has that very name);</item>
    /// <item>a glob such as <c>**/package.json#.dependencies</c> never does: MSBuild expands it at evaluation, finds no
    /// file of that name and drops it. So the project file's own CacheOn elements are read
    /// (<see cref="ProjectCacheOnItems"/>) and such globs expanded here with MSBuild's glob semantics and the element's
    /// Exclude. The file tree is walked only when such a glob exists. A glob we cannot evaluate (under a Condition,
    /// inside a Target, built from $(...), @(...) or %) is error ECRC1115, never a silent drop.</item>
    /// </list>
    /// </summary>
    internal static class CacheOnHashSpecs
    {
        /// <summary>
        /// Splits a literal item spec <c>file#.path</c>: true with the file and the JsonPath, false when the spec is a
        /// plain path (no '#' followed by '.', or a file of that whole name exists: <paramref name="specExists"/>).
        /// </summary>
        public static bool TrySplitLiteral(string spec, bool specExists, out string path, out string jsonPath)
        {
            path = spec;
            jsonPath = "";
            return !specExists && spec.IndexOf('#') >= 0 && CacheOnPatterns.TrySplitJsonPath(spec, out path, out jsonPath);
        }

        /// <summary>True when a glob spec with '#' that reached the task unexpanded is one the project file declares.</summary>
        public static bool IsDeclared(ProjectCacheOnItems items, string spec)
        {
            foreach (var glob in items.HashGlobs)
            {
                if (string.Equals(glob.Spec, spec.Trim(), System.StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// Expands the project file's <c>glob#.jsonpath</c> specs into CacheOn inputs (added to <paramref name="inputs"/>,
        /// metadata into <paramref name="stats"/>). A glob that matches nothing is warning ECRC1104, like a plain one.
        /// </summary>
        /// <param name="received">The CacheOn items MSBuild passed, to recognise a glob it expanded itself.</param>
        public static void ExpandGlobs(
            ProjectCacheOnItems items,
            string projectFile,
            string projectDirectory,
            IList<RawItem> received,
            RelativePathResolver relative,
            IList<CacheOnInput> inputs,
            IDictionary<string, FileStat> stats,
            IBuildLog log)
        {
            foreach (var spec in items.HashGlobs)
            {
                if (spec.NotEvaluable != null)
                {
                    throw new EcrCacheException(Diagnostic.Create(
                        DiagnosticIds.CacheOnHashGlobNotEvaluable, spec.Spec, projectFile, spec.Line > 0 ? ", line " + spec.Line : "", spec.NotEvaluable, spec.PathPattern, spec.JsonPath).AtLine(spec.Line));
                }

                if (spec.JsonPathMetadata != null)
                {
                    throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.CacheOnJsonPathTwice, spec.Spec, projectFile, spec.JsonPathMetadata).AtLine(spec.Line));
                }

                try
                {
                    JsonPathSelector.Parse(spec.JsonPath, spec.Spec); // ECRC1103 now, also when nothing matches
                }
                catch (EcrCacheException ex)
                {
                    throw new EcrCacheException(ex.Diagnostic.AtLine(spec.Line));
                }

                if (MSBuildExpandedIt(spec, projectDirectory, received))
                {
                    continue;
                }

                var excludes = new List<CacheOnGlob>(spec.Excludes.Count);
                foreach (var exclude in spec.Excludes)
                {
                    excludes.Add(CacheOnGlob.Create(projectDirectory, exclude));
                }

                var files = CacheOnGlob.Create(projectDirectory, spec.PathPattern).EnumerateFiles(excludes);
                if (files.Count == 0)
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.CacheOnNoMatch, spec.Spec).AtLine(spec.Line));
                    continue;
                }

                var fileStats = FileStat.OfMany(files);
                for (var i = 0; i < files.Count; i++)
                {
                    inputs.Add(new CacheOnInput(files[i], relative.Of(files[i]), spec.JsonPath));
                    stats[files[i]] = fileStats[i];
                }

                log.Detail("EcrCache: CacheOn '" + spec.Spec + "' (line " + spec.Line + "): MSBuild drops a glob with '#', so EcrCache expanded it: "
                    + files.Count + " file(s), JsonPath " + spec.JsonPath + ".");
            }
        }

        // A pattern such as "**/*#.json" is also an ordinary glob over files whose names contain "#.": if MSBuild
        // passed on a file it matches as a whole, it was one, and nothing is to be split.
        private static bool MSBuildExpandedIt(HashGlobSpec spec, string projectDirectory, IList<RawItem> received)
        {
            CacheOnGlob? whole = null;
            foreach (var item in received)
            {
                if (item.ItemSpec.IndexOf('#') < 0)
                {
                    continue;
                }

                whole ??= CacheOnGlob.Create(projectDirectory, spec.Spec);
                var full = item.Get("FullPath");
                full = string.IsNullOrEmpty(full) ? Validate.FullPath(projectDirectory, item.ItemSpec) : full!;
                if (whole.Matches(full) && System.IO.File.Exists(full))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
