using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// docs/diagnostics.md and the release tracking agree with the descriptors exactly: every descriptor has its table
/// row (ID, severity, title), its section and its release row, and the docs document no ID that does not exist
/// (OPTG0016 is kept as a retired section, so old links still land somewhere).
/// </summary>
public sealed class DiagnosticDocsTests
{
    private static readonly string[] Retired = { "OPTG0016" };

    private static DiagnosticDescriptor[] Descriptors() =>
        typeof(OptGenGenerator).Assembly.GetType("OptGen.Generator.Diagnostics.DiagnosticDescriptors")!
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToArray();

    [Fact]
    public void EveryDescriptorHasItsTableRowSectionAndReleaseRow()
    {
        string docs = File.ReadAllText(Repo("docs/diagnostics.md"));
        string releases = File.ReadAllText(Repo("src/Generator/AnalyzerReleases.Shipped.md")) + File.ReadAllText(Repo("src/Generator/AnalyzerReleases.Unshipped.md"));
        foreach (DiagnosticDescriptor d in Descriptors())
        {
            string title = d.Title.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains($"| [{d.Id}](#{d.Id.ToLowerInvariant()}) | {d.DefaultSeverity} | {title} |", docs, StringComparison.Ordinal);
            Assert.Contains($"## {d.Id}\n\n**{title}** ({d.DefaultSeverity.ToString().ToLowerInvariant()}", docs.Replace("\r\n", "\n"), StringComparison.Ordinal);
            Assert.Contains($"{d.Id} | OptGen | {d.DefaultSeverity} | {title}", releases, StringComparison.Ordinal);
            Assert.Equal("https://github.com/optgen/optgen/blob/main/docs/diagnostics.md#" + d.Id.ToLowerInvariant(), d.HelpLinkUri);
        }
    }

    [Fact]
    public void TheDocsDocumentNoIdThatDoesNotExist()
    {
        string docs = File.ReadAllText(Repo("docs/diagnostics.md"));
        string[] sections = Regex.Matches(docs, "^## (OPTG[0-9]{4})", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToArray();
        string[] rows = Regex.Matches(docs, @"^\| \[(OPTG[0-9]{4})\]", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToArray();
        string[] ids = Descriptors().Select(d => d.Id).ToArray();
        Assert.Equal(ids.OrderBy(i => i, StringComparer.Ordinal), rows.OrderBy(i => i, StringComparer.Ordinal));
        Assert.Equal(ids.Concat(Retired).OrderBy(i => i, StringComparer.Ordinal), sections.OrderBy(i => i, StringComparer.Ordinal));
        Assert.Equal(sections.Length, sections.Distinct().Count());
    }

    private static string Repo(string relative, [CallerFilePath] string caller = "") =>
        Path.Combine(Path.GetDirectoryName(caller)!, "..", "..", relative);
}
