using System.Globalization;
using System.Resources;

namespace EcrCache.Diagnostics
{
    /// <summary>A coded diagnostic: <c>ECRC####</c> plus a message that says what to change.</summary>
    internal sealed class Diagnostic
    {
        private static readonly ResourceManager Resources =
            new ResourceManager("EcrCache.Diagnostics.Strings", typeof(Diagnostic).Assembly);

        public Diagnostic(string code, string message)
        {
            Code = code;
            Message = message;
        }

        public string Code { get; }

        public string Message { get; }

        /// <summary>
        /// The file the diagnostic is about (a Dockerfile, a Compose file), or null for the project file: MSBuild prints
        /// it as the error's origin, so an IDE's error list opens it.
        /// </summary>
        public string? File { get; private set; }

        /// <summary>The 1-based line of <see cref="File"/> (or of the project file) the diagnostic is about (0: the file as a whole).</summary>
        public int Line { get; private set; }

        /// <summary>The 1-based column on <see cref="Line"/> (0: the line as a whole).</summary>
        public int Column { get; private set; }

        /// <summary>This diagnostic pointing at <paramref name="line"/> of the project file.</summary>
        public Diagnostic AtLine(int line) => At(null, line);

        /// <summary>
        /// This diagnostic pointing at <paramref name="line"/> and <paramref name="column"/> of <paramref name="file"/>
        /// (null: the project file).
        /// </summary>
        public Diagnostic At(string? file, int line, int column = 0) =>
            new Diagnostic(Code, Message) { File = file, Line = line, Column = column };

        /// <summary>Creates a diagnostic from its resource name (see <see cref="DiagnosticIds"/>).</summary>
        public static Diagnostic Create(string id, params object?[] args)
        {
            var format = GetFormat(id);
            var colon = format.IndexOf(": ", StringComparison.Ordinal);
            var code = format.Substring(0, colon);
            var text = format.Substring(colon + 2);
            var message = args.Length == 0 ? text : string.Format(CultureInfo.InvariantCulture, text, args);
            return new Diagnostic(code, message);
        }

        /// <summary>The raw "ECRC####: text" format of a diagnostic.</summary>
        public static string GetFormat(string id) =>
            Resources.GetString(id, CultureInfo.InvariantCulture)
            ?? throw new InvalidOperationException("Unknown diagnostic id " + id);

        public override string ToString() => Code + ": " + Message;
    }

    /// <summary>Thrown by the library for a failure that must surface as a coded MSBuild error.</summary>
    internal sealed class EcrCacheException : Exception
    {
        public EcrCacheException(Diagnostic diagnostic, Exception? inner = null)
            : base(diagnostic.ToString(), inner)
        {
            Diagnostic = diagnostic;
        }

        public EcrCacheException(string id, params object?[] args)
            : this(Diagnostic.Create(id, args))
        {
        }

        public Diagnostic Diagnostic { get; }
    }
}
