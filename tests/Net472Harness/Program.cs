using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EcrCache.Net472Harness
{
    /// <summary>
    /// Runs the EcrCache tasks of a net472 task folder the way Sdk.targets does, with a minimal build engine:
    /// <c>Net472Harness TASKS_DIR key|ensure PROJECT_FILE DOCKER REPOSITORY [CACHE_ON...]</c>. The project file is
    /// not read: it gives the project's folder (Dockerfile, CacheOn files) and name, as MSBuild would pass them.
    /// Prints <c>harness: tag=T</c> (and for ensure <c>harness: result=R</c>, <c>harness: reference=REF</c>); exits 0 on
    /// success, 1 when a task failed, 2 on bad arguments or when the task assembly cannot be loaded.
    /// </summary>
    internal static class Program
    {
        private static string _tasksDirectory = "";

        private static int Main(string[] args)
        {
            var code = Run(args);

            // Mono (6.8, Debian) now and then never finishes its shutdown once Main returns; nothing is left to do,
            // so leave without it. Console.Out flushes every write.
            Console.Out.Flush();
            if (Type.GetType("Mono.Runtime") != null)
            {
                _exit(code);
            }

            return code;
        }

        [DllImport("libc", EntryPoint = "_exit")]
        private static extern void _exit(int status);

        private static int Run(string[] args)
        {
            // Mono's thread pool starts with one thread per core and grows slowly; the task blocks on async work.
            ThreadPool.SetMinThreads(16, 16);
            if (args.Length < 5 || (args[1] != "key" && args[1] != "ensure"))
            {
                Console.Error.WriteLine("usage: Net472Harness TASKS_DIR key|ensure PROJECT_FILE DOCKER REPOSITORY [CACHE_ON...]");
                return 2;
            }

            _tasksDirectory = Path.GetFullPath(args[0]);
            var ensure = args[1] == "ensure";
            var projectFile = Path.GetFullPath(args[2]);
            var projectDirectory = Path.GetDirectoryName(projectFile)!;
            Console.WriteLine("harness: runtime " + (Type.GetType("Mono.Runtime") != null ? "Mono " : ".NET Framework ") + Environment.Version);

            // Visual Studio loads the task assembly by path and its dependencies from beside it; nothing else of the
            // task folder may come from the harness's own folder (it holds only the two MSBuild assemblies).
            AppDomain.CurrentDomain.AssemblyResolve += ResolveBesideTasks;
            Assembly tasks;
            try
            {
                tasks = Assembly.LoadFrom(Path.Combine(_tasksDirectory, "EcrCache.Tasks.dll"));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("harness: cannot load the task assembly: " + e);
                return 2;
            }

            // MSBuild runs tasks in the project's folder: relative item specs (CacheOn) are relative to it.
            Environment.CurrentDirectory = projectDirectory;
            var engine = new Engine(projectFile);
            var intermediate = Path.Combine(projectDirectory, "obj", "ecrcache") + Path.DirectorySeparatorChar;

            // ReadCachedImageOptions takes every option; the values are Sdk.targets' defaults for the local provider
            // (MSBuild does not set a string parameter whose value is empty, so neither does this).
            var read = Create(tasks, "ReadCachedImageOptions", engine);
            Set(read, "ProjectDirectory", projectDirectory);
            Set(read, "ProjectName", Path.GetFileNameWithoutExtension(projectFile));
            Set(read, "ProjectFile", projectFile);
            Set(read, "IntermediateDirectory", intermediate);
            Set(read, "DockerPath", args[3]);
            Set(read, "Dockerfile", projectDirectory + "/Dockerfile");
            Set(read, "BaseImageDigests", "true");
            Set(read, "BaseImageDigestsCacheMinutes", "10");
            Set(read, "Provider", "local");
            Set(read, "RegistryInsecure", "false");
            Set(read, "Repository", args[4]);
            Set(read, "MaxAgeDays", "7");
            Set(read, "DirectoryMaxSizeMB", "0");
            Set(read, "SdkDefaults", ";EcrCacheProvider;EcrCacheSkipPull;EcrCacheRegistryInsecure;EcrCacheMaxAgeDays;EcrCacheDirectoryMaxSizeMB");
            Set(read, "WarnOnLocalInBuildkite", "true");
            Set(read, "SkipPull", "false");
            Set(read, "PushLatest", "true");
            Set(read, "LayerCache", "true");
            Set(read, "DockerRetries", "3");
            Set(read, "LeaseTimeout", "30");
            Set(read, "ExportEnvVariable", "BUILDKITE_PLUGIN_DOCKER_IMAGE");
            Set(read, "EnvFile", intermediate + "image.env");
            Set(read, "BuildkiteAgentPath", "buildkite-agent");
            Set(read, "MetadataTimeout", "00:01:00");
            Set(read, "CacheOn", args.Skip(5).Select(spec => (ITaskItem)new TaskItem(spec)).ToArray());
            if (!read.Execute())
            {
                return 1;
            }

            var pipeline = (string)Get(read, "Pipeline")!;

            // The step tasks take only the pipeline; in EnsureCachedImage the key step trusts the platform the
            // last ensure stamped (_EcrCacheTrustEnsuredPlatform runs before it).
            var key = Create(tasks, "ComputeCachedImageKey", engine);
            Set(key, "Pipeline", pipeline);
            if (ensure)
            {
                Set(key, "TrustEnsuredPlatform", "true");
            }

            if (!key.Execute())
            {
                return 1;
            }

            Console.WriteLine("harness: tag=" + Get(key, "Tag"));
            if (!ensure)
            {
                return 0;
            }

            foreach (var step in new[] { "ResolveCachedImageStore", "PullOrBuildCachedImage", "ExportCachedImage" })
            {
                var task = Create(tasks, step, engine);
                Set(task, "Pipeline", pipeline);
                if (!task.Execute())
                {
                    return 1;
                }

                if (step == "PullOrBuildCachedImage")
                {
                    Console.WriteLine("harness: result=" + Get(task, "Result"));
                    Console.WriteLine("harness: reference=" + Get(task, "ImageReference"));
                }
            }

            return engine.Errors == 0 ? 0 : 1;
        }

        private static Assembly? ResolveBesideTasks(object? sender, ResolveEventArgs e)
        {
            var requested = new AssemblyName(e.Name);
            if (requested.Name.EndsWith(".resources", StringComparison.OrdinalIgnoreCase))
            {
                return null; // satellite look-ups for the neutral culture fall back to the main assembly
            }

            var path = Path.Combine(_tasksDirectory, requested.Name + ".dll");
            if (!File.Exists(path))
            {
                Console.WriteLine("harness: dependency " + e.Name + " is not beside the task assembly");
                return null;
            }

            // As without binding redirects: a lower version than the one the task was compiled against is a conflict.
            var found = AssemblyName.GetAssemblyName(path);
            if (requested.Version != null && found.Version < requested.Version)
            {
                Console.WriteLine("harness: dependency " + e.Name + " conflicts with " + found.FullName + " beside the task assembly");
                return null;
            }

            return Assembly.LoadFrom(path);
        }

        private static ITask Create(Assembly tasks, string name, IBuildEngine engine)
        {
            var type = tasks.GetType("EcrCache.Tasks." + name, throwOnError: true)!;
            var task = (ITask)Activator.CreateInstance(type)!;
            task.BuildEngine = engine;
            return task;
        }

        /// <summary>Sets a task parameter; a string for a non-string parameter (bool) is converted, as MSBuild does.</summary>
        private static void Set(ITask task, string name, object value)
        {
            var property = task.GetType().GetProperty(name) ?? throw new MissingMemberException(task.GetType().Name, name);
            if (value is string text && property.PropertyType != typeof(string))
            {
                value = Convert.ChangeType(text, property.PropertyType, CultureInfo.InvariantCulture);
            }

            property.SetValue(task, value);
        }

        private static object? Get(ITask task, string name) =>
            (task.GetType().GetProperty(name) ?? throw new MissingMemberException(task.GetType().Name, name)).GetValue(task);
    }

    /// <summary>The build engine of one project: console logging and the build's task-object registry.</summary>
    internal sealed class Engine : IBuildEngine4
    {
        private readonly Dictionary<object, object> _objects = new Dictionary<object, object>();

        public Engine(string projectFile) => ProjectFileOfTaskNode = projectFile;

        public int Errors { get; private set; }

        public bool ContinueOnError => false;

        public int LineNumberOfTaskNode => 0;

        public int ColumnNumberOfTaskNode => 0;

        public string ProjectFileOfTaskNode { get; }

        public bool IsRunningMultipleNodes => false;

        public void LogErrorEvent(BuildErrorEventArgs e)
        {
            Errors++;
            Console.WriteLine("error " + e.Code + ": " + e.Message);
        }

        public void LogWarningEvent(BuildWarningEventArgs e) => Console.WriteLine("warning " + e.Code + ": " + e.Message);

        public void LogMessageEvent(BuildMessageEventArgs e) => Console.WriteLine("message " + e.Importance.ToString().ToLowerInvariant() + ": " + e.Message);

        public void LogCustomEvent(CustomBuildEventArgs e) => Console.WriteLine("custom: " + e.Message);

        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) =>
            throw new NotSupportedException("the harness builds no projects");

        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs, string toolsVersion) =>
            throw new NotSupportedException("the harness builds no projects");

        public bool BuildProjectFilesInParallel(string[] projectFileNames, string[] targetNames, IDictionary[] globalProperties, IDictionary[] targetOutputsPerProject, string[] toolsVersion, bool useResultsCache, bool unloadProjectsOnCompletion) =>
            throw new NotSupportedException("the harness builds no projects");

        public BuildEngineResult BuildProjectFilesInParallel(string[] projectFileNames, string[] targetNames, IDictionary[] globalProperties, IList<string>[] removeGlobalProperties, string[] toolsVersion, bool returnTargetOutputs) =>
            throw new NotSupportedException("the harness builds no projects");

        public void Yield()
        {
        }

        public void Reacquire()
        {
        }

        // One project, one build: every lifetime shares the one dictionary.
        public void RegisterTaskObject(object key, object obj, RegisteredTaskObjectLifetime lifetime, bool allowEarlyCollection) => _objects[key] = obj;

        public object? GetRegisteredTaskObject(object key, RegisteredTaskObjectLifetime lifetime) =>
            _objects.TryGetValue(key, out var value) ? value : null;

        public object? UnregisterTaskObject(object key, RegisteredTaskObjectLifetime lifetime)
        {
            if (!_objects.TryGetValue(key, out var value))
            {
                return null;
            }

            _objects.Remove(key);
            return value;
        }
    }
}
