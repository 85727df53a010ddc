using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using OptGen.Generator.Helpers;

namespace OptGen.Generator.Diagnostics
{
    /// <summary>A location as plain data, so diagnostics can travel through the incremental pipeline.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public static LocationInfo? From(Location? location) =>
            location is null || location.SourceTree is null
                ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);

        /// <summary>
        /// The location in <paramref name="trees"/>' tree of the same path (a source location, so <c>#pragma warning
        /// disable</c>, .editorconfig severities and [SuppressMessage] apply: Roslyn checks them only for a location in
        /// a syntax tree of the compilation, dotnet/roslyn#68291), else a location by path and line.
        /// </summary>
        public Location ToLocation(IReadOnlyDictionary<string, SyntaxTree?> trees) =>
            trees.TryGetValue(FilePath, out SyntaxTree? tree) && tree is not null && Span.End <= tree.Length
                ? Location.Create(tree, Span)
                : Location.Create(FilePath, Span, LineSpan);
    }

    /// <summary>A diagnostic as plain data.</summary>
    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params object?[] arguments) =>
            new(descriptor, LocationInfo.From(location), arguments.Select(a => a?.ToString() ?? string.Empty).ToEquatableArray());

        /// <summary>
        /// The diagnostics, located in <paramref name="compilation"/>'s syntax trees. The pipeline keeps locations as
        /// data (a path and a span) so that its steps compare by value and cache; reporting turns them back into
        /// source locations here, in a step that runs for every compilation but whose result is equal (and its
        /// output cached) while the files it points into are unchanged: a source location compares by its tree.
        /// </summary>
        public static EquatableArray<Diagnostic> Locate(ImmutableArray<DiagnosticInfo> diagnostics, Compilation compilation)
        {
            if (diagnostics.IsEmpty)
            {
                return EquatableArray<Diagnostic>.Empty;
            }

            // By path; null where two trees share one (then the path and line locate it, as before).
            var trees = new Dictionary<string, SyntaxTree?>(System.StringComparer.Ordinal);
            foreach (SyntaxTree tree in compilation.SyntaxTrees)
            {
                trees[tree.FilePath] = trees.ContainsKey(tree.FilePath) ? null : tree;
            }

            return diagnostics.Select(d => Diagnostic.Create(d.Descriptor, d.Location?.ToLocation(trees), d.Arguments.Cast<object>().ToArray())).ToEquatableArray();
        }
    }
}
