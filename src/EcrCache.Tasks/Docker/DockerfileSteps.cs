using EcrCache.Keys;
using EcrCache.Keys.Dockerfiles;

namespace EcrCache.Docker
{
    /// <summary>
    /// Maps a BuildKit step (<c>[stage i/n]</c>) back to the Dockerfile instruction it runs. BuildKit numbers the
    /// instructions of each stage that make a vertex: <c>FROM</c> of an image (not of an earlier stage, not
    /// <c>scratch</c>), <c>RUN</c>, <c>COPY</c>, <c>ADD</c> and <c>WORKDIR</c>; it names a stage by its <c>AS</c> name,
    /// or <c>stage-K</c> (0-based) in a multi-stage build, and a single stage not at all.
    /// </summary>
    internal static class DockerfileSteps
    {
        /// <summary>The instruction of <paramref name="step"/> in <paramref name="text"/>, or null when it cannot be told.</summary>
        public static DockerfileParser.LogicalLine? Find(string text, string? file, BuildKitStep step)
        {
            List<Stage> stages;
            try
            {
                stages = Stages(text, file);
            }
            catch (EcrCacheException)
            {
                return null;
            }

            var stage = step.Stage == null
                ? (stages.Count == 1 ? stages[0] : null)
                : stages.FirstOrDefault(s => string.Equals(s.Label(stages.Count), step.Stage, StringComparison.OrdinalIgnoreCase));
            if (stage == null || step.Index < 1 || step.Index > stage.Steps.Count)
            {
                return null;
            }

            var instruction = stage.Steps[step.Index - 1];
            return string.Equals(Keyword(instruction.Text), step.Keyword, StringComparison.OrdinalIgnoreCase) ? instruction : null;
        }

        private static List<Stage> Stages(string text, string? file)
        {
            var stages = new List<Stage>();
            foreach (var instruction in DockerfileParser.LogicalLines(text, file))
            {
                var keyword = Keyword(instruction.Text);
                if (keyword == "FROM")
                {
                    var words = ShellWords.SplitRaw(DockerfileParser.SplitKeyword(instruction.Text).Arguments, instruction.Escape).Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToList();
                    var image = words.Count > 0 ? words[0] : "";
                    var name = words.Count == 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? words[2].ToLowerInvariant() : null;
                    var fromStage = stages.Any(s => string.Equals(s.Name, image, StringComparison.OrdinalIgnoreCase))
                        || (int.TryParse(image, out var index) && index < stages.Count);
                    var stage = new Stage(name, stages.Count);
                    if (!fromStage && !image.Equals("scratch", StringComparison.OrdinalIgnoreCase))
                    {
                        stage.Steps.Add(instruction);
                    }

                    stages.Add(stage);
                }
                else if (stages.Count > 0 && (keyword == "RUN" || keyword == "COPY" || keyword == "ADD" || keyword == "WORKDIR"))
                {
                    stages[stages.Count - 1].Steps.Add(instruction);
                }
            }

            return stages;
        }

        private static string Keyword(string instruction) => DockerfileParser.SplitKeyword(instruction).Keyword.ToUpperInvariant();

        private sealed class Stage
        {
            public Stage(string? name, int index)
            {
                Name = name;
                Index = index;
            }

            public string? Name { get; }

            public int Index { get; }

            public List<DockerfileParser.LogicalLine> Steps { get; } = new List<DockerfileParser.LogicalLine>();

            public string? Label(int stageCount) => Name ?? (stageCount == 1 ? null : "stage-" + Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
