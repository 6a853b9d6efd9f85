using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.Build.Evaluation;
using Microsoft.Build.Execution;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks.Tests.Sdk
{
    /// <summary>A logged error or warning, without MSBuild types; Line and Column are 0 when it names none.</summary>
    internal sealed record LoggedDiagnostic(string? Code, string Message, string? File, int Line = 0, int Column = 0);

    /// <summary>What an in-process build did, without MSBuild types.</summary>
    internal sealed class BuildOutcome
    {
        public bool Success { get; init; }

        public List<LoggedDiagnostic> Errors { get; } = new List<LoggedDiagnostic>();

        public List<LoggedDiagnostic> Warnings { get; } = new List<LoggedDiagnostic>();

        public List<string> Messages { get; } = new List<string>();

        public List<string> TargetsRun { get; } = new List<string>();

        /// <summary>The tasks that started (a task whose Condition is false does not).</summary>
        public List<string> TasksRun { get; } = new List<string>();

        /// <summary>Property values after the build (only the ones asked for).</summary>
        public Dictionary<string, string> Properties { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Item specs each requested target returned.</summary>
        public Dictionary<string, List<string>> TargetOutputs { get; } = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);

        public string Log =>
            string.Join("\n", Errors.Select(e => "error " + e.Code + ": " + e.Message)
                .Concat(Warnings.Select(w => "warning " + w.Code + ": " + w.Message))
                .Concat(Messages));
    }

    /// <summary>Evaluates and builds projects with the registered MSBuild, in this process. Call <see cref="MSBuildSetup.EnsureRegistered"/> first.</summary>
    internal static class SdkHarness
    {
        public static string SdkDirectory => Path.Combine(TestPaths.RepoRoot, "src", "EcrCache.Sdk", "Sdk");

        public static string SdkProps => Path.Combine(SdkDirectory, "Sdk.props");

        public static string SdkTargets => Path.Combine(SdkDirectory, "Sdk.targets");

        public static string StandaloneTargets => Path.Combine(SdkDirectory, "EcrCache.Standalone.targets");

        /// <summary>
        /// The freshly built net8.0 task assembly: src/EcrCache.Tasks/bin/&lt;this test's Configuration&gt;/net8.0, else the
        /// copy next to the test assembly (the same net8.0 build, through the ProjectReference).
        /// </summary>
        public static string TasksAssembly
        {
            get
            {
                var configuration = typeof(SdkHarness).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
                var built = Path.Combine(TestPaths.RepoRoot, "src", "EcrCache.Tasks", "bin", configuration, "net8.0", "EcrCache.Tasks.dll");
                if (File.Exists(built))
                {
                    return built;
                }

                var copy = Path.Combine(AppContext.BaseDirectory, "EcrCache.Tasks.dll");
                Assert.IsTrue(File.Exists(copy), "EcrCache.Tasks.dll is neither at " + built + " nor at " + copy);
                return copy;
            }
        }

        /// <summary>Writes a project that imports Sdk.props and Sdk.targets by path around <paramref name="body"/>.</summary>
        public static string WriteProject(string directory, string name, string body, string afterTargets = "", string? sdk = null)
        {
            var path = Path.Combine(directory, name);
            var sdkAttribute = sdk == null ? "" : " Sdk=\"" + sdk + "\"";
            File.WriteAllText(path, $@"<Project{sdkAttribute}>
  <Import Project=""{SdkProps}"" />
{body}
  <Import Project=""{SdkTargets}"" />
{afterTargets}
</Project>
");
            return path;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static Dictionary<string, string> Evaluate(string projectPath, IDictionary<string, string>? globals, params string[] properties)
        {
            using var collection = new ProjectCollection();
            var project = new Project(projectPath, globals ?? new Dictionary<string, string>(), null, collection);
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var name in properties)
            {
                result[name] = project.GetPropertyValue(name);
            }

            collection.UnloadAllProjects();
            return result;
        }

        /// <summary>Every property whose name starts with <paramref name="prefix"/>, with its evaluated value.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static Dictionary<string, string> EvaluatePrefix(string projectPath, IDictionary<string, string>? globals, string prefix)
        {
            using var collection = new ProjectCollection();
            var project = new Project(projectPath, globals ?? new Dictionary<string, string>(), null, collection);
            var result = project.AllEvaluatedProperties
                .Where(p => p.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                .GroupBy(p => p.Name, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => project.GetPropertyValue(g.Key), StringComparer.OrdinalIgnoreCase);
            collection.UnloadAllProjects();
            return result;
        }

        /// <summary>The evaluated items of <paramref name="itemType"/>: each one's spec with the metadata it was given (not the well-known ones).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static List<(string Spec, Dictionary<string, string> Metadata)> EvaluateItems(string projectPath, IDictionary<string, string>? globals, string itemType)
        {
            using var collection = new ProjectCollection();
            var project = new Project(projectPath, globals ?? new Dictionary<string, string>(), null, collection);
            var result = project.GetItems(itemType)
                .Select(i => (i.EvaluatedInclude, i.Metadata.ToDictionary(m => m.Name, m => m.EvaluatedValue, StringComparer.OrdinalIgnoreCase)))
                .ToList();
            collection.UnloadAllProjects();
            return result;
        }

        /// <summary>Target name → DependsOnTargets as written (unexpanded).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static Dictionary<string, string> Targets(string projectPath, IDictionary<string, string>? globals)
        {
            using var collection = new ProjectCollection();
            var project = new Project(projectPath, globals ?? new Dictionary<string, string>(), null, collection);
            var result = project.Targets.ToDictionary(t => t.Key, t => t.Value.DependsOnTargets, StringComparer.OrdinalIgnoreCase);
            collection.UnloadAllProjects();
            return result;
        }

        /// <summary>Builds <paramref name="targets"/> in this process with a capturing logger.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static BuildOutcome Build(string projectPath, IDictionary<string, string>? globals, string[] targets, params string[] propertiesAfter)
        {
            var (iLogger, logger) = CapturingLogger.Create();
            using var collection = new ProjectCollection();
            // The task reads BUILDKITE from this process's environment: run inside a Buildkite job, the tests would see
            // ECRC1030 (provider local in a Buildkite job) in every warning list. The integration tests cover it.
            var buildGlobals = new Dictionary<string, string>(globals ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
            if (!buildGlobals.ContainsKey("EcrCacheWarnOnLocalInBuildkite"))
            {
                buildGlobals["EcrCacheWarnOnLocalInBuildkite"] = "false";
            }

            var project = new Project(projectPath, buildGlobals, null, collection);
            var instance = project.CreateProjectInstance();
            var success = instance.Build(targets, new[] { iLogger }, out IDictionary<string, TargetResult> outputs);
            var outcome = new BuildOutcome { Success = success };
            lock (logger.Gate)
            {
                outcome.Errors.AddRange(logger.Errors);
                outcome.Warnings.AddRange(logger.Warnings);
                outcome.Messages.AddRange(logger.Messages);
                outcome.TargetsRun.AddRange(logger.TargetsRun);
                outcome.TasksRun.AddRange(logger.TasksRun);
            }

            foreach (var name in propertiesAfter)
            {
                outcome.Properties[name] = instance.GetPropertyValue(name);
            }

            foreach (var pair in outputs)
            {
                outcome.TargetOutputs[pair.Key] = pair.Value.Items.Select(i => i.ItemSpec).ToList();
            }

            collection.UnloadAllProjects();
            return outcome;
        }

        /// <summary>
        /// A custom <see cref="ILogger"/> that records errors (with their codes), warnings, messages and the targets that ran.
        /// It is a <see cref="DispatchProxy"/> rather than a class that implements ILogger: MSTest loads every type of
        /// this assembly while it discovers tests, before Microsoft.Build.Locator ran, and a class implementing an MSBuild
        /// interface would fail to load then (the MSBuild assemblies are not copied next to the tests).
        /// </summary>
        internal class CapturingLogger : DispatchProxy
        {
            public readonly object Gate = new object();
            public readonly List<LoggedDiagnostic> Errors = new List<LoggedDiagnostic>();
            public readonly List<LoggedDiagnostic> Warnings = new List<LoggedDiagnostic>();
            public readonly List<string> Messages = new List<string>();
            public readonly List<string> TargetsRun = new List<string>();
            public readonly List<string> TasksRun = new List<string>();
            private object? _verbosity;
            private string? _parameters;

            [MethodImpl(MethodImplOptions.NoInlining)]
            public static (ILogger Logger, CapturingLogger State) Create()
            {
                var logger = DispatchProxy.Create<ILogger, CapturingLogger>();
                return (logger, (CapturingLogger)(object)logger);
            }

            protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            {
                switch (targetMethod?.Name)
                {
                    case "Initialize":
                        Subscribe(args![0]!);
                        return null;
                    case "Shutdown":
                        return null;
                    case "get_Verbosity":
                        return _verbosity ?? DiagnosticVerbosity();
                    case "set_Verbosity":
                        _verbosity = args![0];
                        return null;
                    case "get_Parameters":
                        return _parameters;
                    case "set_Parameters":
                        _parameters = (string?)args![0];
                        return null;
                    default:
                        throw new NotSupportedException(targetMethod?.Name);
                }
            }

            [MethodImpl(MethodImplOptions.NoInlining)]
            private static object DiagnosticVerbosity() => LoggerVerbosity.Diagnostic;

            [MethodImpl(MethodImplOptions.NoInlining)]
            private void Subscribe(object source)
            {
                var eventSource = (IEventSource)source;
                eventSource.ErrorRaised += (_, e) => Add(Errors, new LoggedDiagnostic(e.Code, e.Message ?? "", e.File, e.LineNumber, e.ColumnNumber));
                eventSource.WarningRaised += (_, e) => Add(Warnings, new LoggedDiagnostic(e.Code, e.Message ?? "", e.File, e.LineNumber, e.ColumnNumber));
                eventSource.MessageRaised += (_, e) => Add(Messages, e.Message ?? "");
                eventSource.TargetStarted += (_, e) => Add(TargetsRun, e.TargetName);
                eventSource.TaskStarted += (_, e) => Add(TasksRun, e.TaskName);
            }

            private void Add<T>(List<T> list, T value)
            {
                lock (Gate)
                {
                    list.Add(value);
                }
            }
        }
    }
}
