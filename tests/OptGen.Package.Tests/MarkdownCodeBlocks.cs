using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace OptGen.Package.Tests;

/// <summary>One fenced code block of a Markdown page.</summary>
/// <param name="Page">The page, relative to the repository root with <c>/</c> separators (<c>docs/gpu.md</c>).</param>
/// <param name="FullPath">The page's full path, for <c>#line</c> directives that point the compiler at it.</param>
/// <param name="FirstLine">The 1-based line of the block's first code line (the line after the opening fence).</param>
/// <param name="Info">The fence's info string, trimmed (<c>csharp</c>, <c>csharp fragment</c>, <c>bash</c>, or empty).</param>
/// <param name="Text">The code, with the fence's indentation removed, lines joined by <c>\n</c>.</param>
public sealed record CodeBlock(string Page, string FullPath, int FirstLine, string Info, string Text)
{
    /// <summary>Where the block starts, as a reader looks it up: <c>docs/gpu.md:8</c>.</summary>
    public string Where => $"{Page}:{FirstLine}";

    public override string ToString() => Where;
}

/// <summary>
/// Reads the fenced code blocks (``` or ~~~, CommonMark rules for the fence) of a Markdown page. Indented fences (a
/// block inside a list item) count, and their indentation is removed from the code lines. An unclosed fence runs to
/// the end of the page, as in CommonMark.
/// </summary>
public static class MarkdownCodeBlocks
{
    public static IReadOnlyList<CodeBlock> Read(string repositoryRoot, string page)
    {
        string fullPath = Path.GetFullPath(Path.Combine(repositoryRoot, page));
        string[] lines = File.ReadAllText(fullPath).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var blocks = new List<CodeBlock>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!TryOpenFence(lines[i], out int indent, out char fenceChar, out int fenceLength, out string info))
            {
                continue;
            }

            var code = new List<string>();
            int start = i + 1;
            for (i++; i < lines.Length && !IsClosingFence(lines[i], fenceChar, fenceLength); i++)
            {
                code.Add(RemoveIndent(lines[i], indent));
            }

            blocks.Add(new CodeBlock(page.Replace('\\', '/'), fullPath, start + 1, info, string.Join('\n', code)));
        }

        return blocks;
    }

    private static bool TryOpenFence(string line, out int indent, out char fenceChar, out int fenceLength, out string info)
    {
        indent = line.Length - line.TrimStart(' ').Length;
        string rest = line[indent..];
        char first = rest.Length > 0 ? rest[0] : '\0';
        fenceChar = first;
        fenceLength = rest.TakeWhile(c => c == first).Count();
        info = fenceLength < rest.Length ? rest[fenceLength..].Trim() : string.Empty;
        // Backtick fences may not have a backtick in their info string (that would be inline code).
        return fenceChar is '`' or '~' && fenceLength >= 3 && !(fenceChar == '`' && info.Contains('`', StringComparison.Ordinal));
    }

    private static bool IsClosingFence(string line, char fenceChar, int fenceLength)
    {
        string trimmed = line.Trim();
        return trimmed.Length >= fenceLength && trimmed.All(c => c == fenceChar);
    }

    private static string RemoveIndent(string line, int indent)
    {
        int remove = 0;
        while (remove < indent && remove < line.Length && line[remove] == ' ')
        {
            remove++;
        }

        return line[remove..];
    }
}
