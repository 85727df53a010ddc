using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace OptGen.Package.Tests;

/// <summary>
/// The documentation against the code: every public attribute of the OptGen assembly, each of its arguments and
/// each value of the enums they take appears in docs/attributes.md; the doc pages exist; and the file paths the
/// pages point a contributor to exist.
/// </summary>
public sealed partial class DocsTests
{
    private static readonly Assembly OptGenAssembly = typeof(Optimizer).Assembly;

    private static readonly string Docs = Path.Combine(FindRepositoryRoot(), "docs");

    public static TheoryData<string> AttributeNames()
    {
        var data = new TheoryData<string>();
        foreach (Type type in PublicAttributes())
        {
            data.Add(type.Name);
        }

        return data;
    }

    [Fact]
    public void TheVocabularyIsNotEmpty()
    {
        // Guards the theory below against passing vacuously if the reflection finds nothing.
        Assert.Contains(PublicAttributes(), t => t.Name == "OptimizerAttribute");
        Assert.True(PublicAttributes().Count() >= 10, "Expected the attribute vocabulary of OptGen.");
    }

    [Theory]
    [MemberData(nameof(AttributeNames))]
    public void AttributeReferenceNamesTheAttributeAndEveryArgument(string attributeName)
    {
        Type type = PublicAttributes().Single(t => t.Name == attributeName);
        string reference = File.ReadAllText(Path.Combine(Docs, "attributes.md"));
        var missing = new List<string>();

        string shortName = type.Name[..^"Attribute".Length];
        if (!ContainsWord(reference, shortName, StringComparison.Ordinal))
        {
            missing.Add($"the attribute [{shortName}]");
        }

        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        {
            if (property.SetMethod is { IsPublic: true } && !ContainsWord(reference, property.Name, StringComparison.Ordinal))
            {
                missing.Add($"the named argument {property.Name}");
            }
        }

        foreach (ParameterInfo parameter in type.GetConstructors().SelectMany(c => c.GetParameters()))
        {
            if (!ContainsWord(reference, parameter.Name!, StringComparison.OrdinalIgnoreCase))
            {
                missing.Add($"the constructor argument {parameter.Name}");
            }
        }

        IEnumerable<Type> enums = type.GetProperties().Select(p => p.PropertyType)
            .Concat(type.GetConstructors().SelectMany(c => c.GetParameters()).Select(p => p.ParameterType))
            .Where(t => t.IsEnum)
            .Distinct();
        foreach (Type enumType in enums)
        {
            foreach (string value in Enum.GetNames(enumType))
            {
                if (!reference.Contains($"{enumType.Name}.{value}", StringComparison.Ordinal) && !ContainsWord(reference, value, StringComparison.Ordinal))
                {
                    missing.Add($"the value {enumType.Name}.{value}");
                }
            }
        }

        Assert.True(missing.Count == 0, $"docs/attributes.md does not mention {string.Join(", ", missing)} of {type.FullName}.");
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("getting-started.md")]
    [InlineData("attributes.md")]
    [InlineData("architecture.md")]
    [InlineData("generated-code.md")]
    [InlineData("packaging.md")]
    public void DocPageExistsAndIsIndexed(string page)
    {
        string path = Path.Combine(Docs, page);
        Assert.True(File.Exists(path), $"docs/{page} is missing.");
        Assert.True(File.ReadAllText(path).Trim().Length > 200, $"docs/{page} is nearly empty.");
        if (page != "README.md")
        {
            Assert.Contains($"({page})", File.ReadAllText(Path.Combine(Docs, "README.md")), StringComparison.Ordinal);
        }
    }

    /// <summary>Every page in docs/.</summary>
    public static TheoryData<string> Pages() => new(PageNames());

    [Fact]
    public void EveryPageIsIndexed()
    {
        string index = File.ReadAllText(Path.Combine(Docs, "README.md"));
        string[] missing = PageNames().Where(page => page != "README.md" && !index.Contains($"({page})", StringComparison.Ordinal)).ToArray();
        Assert.True(missing.Length == 0, $"docs/README.md does not link to {string.Join(", ", missing)}.");
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void RepositoryPathsInPageExist(string page)
    {
        string root = Path.GetDirectoryName(Docs)!;
        string text = File.ReadAllText(Path.Combine(Docs, page));
        var missing = new List<string>();

        // Paths in code spans, e.g. `src/Generator/AttributeRules/Parser.cs`, and relative link targets, e.g. (../src/Runtime/Optimizer.cs).
        foreach (Match match in CodeSpanPath().Matches(text))
        {
            string path = match.Groups["path"].Value.TrimEnd('/');
            if (!File.Exists(Path.Combine(root, path)) && !Directory.Exists(Path.Combine(root, path)))
            {
                missing.Add(path);
            }
        }

        foreach (Match match in RelativeLink().Matches(text))
        {
            string target = match.Groups["target"].Value.Split('#')[0];
            if (target.Length > 0 && !File.Exists(Path.Combine(Docs, target)) && !Directory.Exists(Path.Combine(Docs, target)))
            {
                missing.Add(target);
            }
        }

        Assert.True(missing.Count == 0, $"docs/{page} points to paths that do not exist: {string.Join(", ", missing)}.");
    }

    [Fact]
    public void RepositoryReadmeLinksResolve()
    {
        string root = Path.GetDirectoryName(Docs)!;
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string[] targets = RelativeLink().Matches(readme).Select(m => m.Groups["target"].Value.Split('#')[0]).Where(t => t.Length > 0).ToArray();
        Assert.Contains("docs/README.md", targets);
        Assert.Contains("docs/getting-started.md", targets);
        string[] missing = targets.Where(t => !File.Exists(Path.Combine(root, t)) && !Directory.Exists(Path.Combine(root, t))).ToArray();
        Assert.True(missing.Length == 0, $"README.md links to paths that do not exist: {string.Join(", ", missing)}.");
    }

    private static IEnumerable<string> PageNames() =>
        Directory.GetFiles(Docs, "*.md").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal);

    private static IEnumerable<Type> PublicAttributes() =>
        OptGenAssembly.GetExportedTypes().Where(t => typeof(Attribute).IsAssignableFrom(t) && !t.IsAbstract).OrderBy(t => t.Name, StringComparer.Ordinal);

    private static bool ContainsWord(string text, string word, StringComparison comparison)
    {
        for (int i = text.IndexOf(word, comparison); i >= 0; i = text.IndexOf(word, i + 1, comparison))
        {
            bool startsWord = i == 0 || !char.IsLetterOrDigit(text[i - 1]);
            bool endsWord = i + word.Length == text.Length || !char.IsLetterOrDigit(text[i + word.Length]);
            if (startsWord && endsWord)
            {
                return true;
            }
        }

        return false;
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "OptGen.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No OptGen.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"`(?<path>(?:src|tests|samples|tools|docs|bench|\.ci)/[A-Za-z0-9_./-]+)`")]
    private static partial Regex CodeSpanPath();

    [GeneratedRegex(@"\]\((?<target>(?!https?:|mailto:|#)[^)\s]+)\)")]
    private static partial Regex RelativeLink();
}
