using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// One conformance case as /work/shared/conformance/SCHEMA.md defines it: an optimizer name and its
/// hyperparameters, p₀, the gradient of every step, and the reference parameters after every step. Free of any
/// test framework and of any backend, so another backend's tests can link this file and reuse the loader.
/// </summary>
public sealed class ConformanceCase
{
    /// <summary>The tolerance when the file gives none.</summary>
    public const double DefaultRelativeTolerance = 5e-6;

    private ConformanceCase(
        string path,
        string name,
        string optimizer,
        IReadOnlyDictionary<string, JsonElement> hyperparameters,
        float[] initialParameters,
        float[][] gradients,
        float[][] expected,
        double[]? learningRatePerStep,
        double relativeTolerance,
        int[][]? tensors,
        float[][]? expectedEval,
        IReadOnlyList<string> unusedFields)
    {
        Path = path;
        Name = name;
        Optimizer = optimizer;
        Hyperparameters = hyperparameters;
        InitialParameters = initialParameters;
        Gradients = gradients;
        Expected = expected;
        LearningRatePerStep = learningRatePerStep;
        RelativeTolerance = relativeTolerance;
        Tensors = tensors;
        ExpectedEval = expectedEval;
        UnusedFields = unusedFields;
    }

    /// <summary>The fields SCHEMA.md defines; <see cref="UnusedFields"/> lists any other field a file has.</summary>
    public static IReadOnlyList<string> SchemaFields { get; } =
    [
        "name", "optimizer", "hyperparameters", "dtype", "n", "T", "p0", "grads", "params_after_each_step", "lr_per_step",
        "rtol", "reference", "description", "tensors", "params_eval_after_each_step",
    ];

    /// <summary>
    /// Top-level fields the file has that SCHEMA.md does not define (e.g. a generator's <c>seed</c>). They are not used;
    /// the runner prints them with the case's result line, so nothing is ignored silently.
    /// </summary>
    public IReadOnlyList<string> UnusedFields { get; }

    /// <summary>The file the case was read from.</summary>
    public string Path { get; }

    /// <summary>The case's unique name.</summary>
    public string Name { get; }

    /// <summary>The optimizer name from SCHEMA's vocabulary (e.g. <c>Adam</c>, <c>adam_min_t</c>).</summary>
    public string Optimizer { get; }

    /// <summary>Every hyperparameter, by its torch.optim or lecture key.</summary>
    public IReadOnlyDictionary<string, JsonElement> Hyperparameters { get; }

    /// <summary>p₀, <c>n</c> values.</summary>
    public float[] InitialParameters { get; }

    /// <summary>The gradient of step t at index t − 1.</summary>
    public float[][] Gradients { get; }

    /// <summary>The reference parameters after step t at index t − 1.</summary>
    public float[][] Expected { get; }

    /// <summary>The learning rate of step t at index t − 1, or null when the base rate holds throughout.</summary>
    public double[]? LearningRatePerStep { get; }

    /// <summary>The case passes when max |p − p_ref| ≤ this × max |p_ref| over all steps and elements.</summary>
    public double RelativeTolerance { get; }

    /// <summary>
    /// The shapes of the <c>tensors</c> field (SCHEMA "Families with reductions"): the vector is their concatenation,
    /// each matrix row-major. Null when the file has none: then the case is one vector tensor of length n
    /// (<see cref="TensorShapes"/>).
    /// </summary>
    public int[][]? Tensors { get; }

    /// <summary>The shapes of the tensors the vector is made of: <see cref="Tensors"/>, or one vector [n] without them.</summary>
    public int[][] TensorShapes => Tensors ?? [[Length]];

    /// <summary>
    /// <c>params_eval_after_each_step</c> (schedule-free): the parameters that <c>Eval()</c> would put in place after
    /// step t at index t − 1, or null when the file has none.
    /// </summary>
    public float[][]? ExpectedEval { get; }

    /// <summary>The vector length n.</summary>
    public int Length => InitialParameters.Length;

    /// <summary>The number of steps T.</summary>
    public int Steps => Gradients.Length;

    /// <summary>Reads and checks one case file.</summary>
    /// <exception cref="InvalidDataException">A field is missing or its shape disagrees with <c>n</c> and <c>T</c>.</exception>
    public static ConformanceCase Load(string path)
    {
        using JsonDocument document = Parse(path);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, "the file is not a JSON object");
        }

        RejectDuplicateFields(root, "the file", path);

        string name = Text(Required(root, "name", path), "name", path);
        string optimizer = Text(Required(root, "optimizer", path), "optimizer", path);
        string dtype = root.TryGetProperty("dtype", out JsonElement d) && d.ValueKind != JsonValueKind.Null ? Text(d, "dtype", path) : "float32";
        if (dtype != "float32")
        {
            throw Invalid(path, $"dtype '{dtype}' is not float32 (SCHEMA's only dtype)");
        }

        JsonElement hyperparameterObject = Required(root, "hyperparameters", path);
        if (hyperparameterObject.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, "hyperparameters is not a JSON object");
        }

        var hyperparameters = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (JsonProperty property in hyperparameterObject.EnumerateObject())
        {
            hyperparameters.Add(property.Name, property.Value.Clone());
        }

        float[] p0 = Floats(Required(root, "p0", path), "p0", path);
        float[][] grads = Rows(Required(root, "grads", path), "grads", path);
        float[][] expected = Rows(Required(root, "params_after_each_step", path), "params_after_each_step", path);
        int n = Count(Required(root, "n", path), "n", path);
        int steps = Count(Required(root, "T", path), "T", path);
        if (steps < 1)
        {
            throw Invalid(path, "T must be at least 1: a case without a step compares nothing");
        }

        double[]? lrs = root.TryGetProperty("lr_per_step", out JsonElement l) && l.ValueKind != JsonValueKind.Null
            ? Array(l, "lr_per_step", path).Select(e => Number(e, "lr_per_step", path)).ToArray()
            : null;
        double rtol = root.TryGetProperty("rtol", out JsonElement r) && r.ValueKind != JsonValueKind.Null ? Number(r, "rtol", path) : DefaultRelativeTolerance;
        if (!(rtol >= 0) || double.IsInfinity(rtol))
        {
            throw Invalid(path, $"rtol must be a finite number >= 0, but is {Show(r)}");
        }

        if (n < 1)
        {
            throw Invalid(path, "n must be at least 1");
        }

        if (p0.Length != n || grads.Length != steps || expected.Length != steps
            || grads.Any(g => g.Length != n) || expected.Any(e => e.Length != n) || (lrs is not null && lrs.Length != steps))
        {
            throw Invalid(path, $"the arrays do not have the shapes n = {n}, T = {steps}");
        }

        if (lrs is not null && lrs.Any(v => !double.IsFinite(v)))
        {
            throw Invalid(path, "lr_per_step holds a value that is not finite");
        }

        int[][]? tensors = root.TryGetProperty("tensors", out JsonElement ts) && ts.ValueKind != JsonValueKind.Null
            ? Shapes(ts, n, path, name)
            : null;
        float[][]? expectedEval = root.TryGetProperty("params_eval_after_each_step", out JsonElement ev) && ev.ValueKind != JsonValueKind.Null
            ? Rows(ev, "params_eval_after_each_step", path)
            : null;
        if (expectedEval is not null && (expectedEval.Length != steps || expectedEval.Any(e => e.Length != n)))
        {
            throw Invalid(path, $"case '{name}': params_eval_after_each_step does not have the shape T = {steps} by n = {n}");
        }

        string[] unused = root.EnumerateObject().Select(p => p.Name).Where(f => !SchemaFields.Contains(f)).ToArray();
        return new ConformanceCase(path, name, optimizer, hyperparameters, p0, grads, expected, lrs, rtol, tensors, expectedEval, unused);
    }

    /// <summary>
    /// Every case file: all <c>*.json</c> below <c>tests/conformance/cases</c> of the repository (recursively, so
    /// <c>cases/random</c> is included), then, when <c>$OPTGEN_CONFORMANCE_DIR</c> is set, all <c>*.json</c> below
    /// that folder (recursively, the extension in any case), or that one file when it names a file. Sorted, so runs are
    /// stable.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The repository's case folder, or what the variable names, does not exist.</exception>
    /// <exception cref="FileNotFoundException">The variable names a folder without a <c>.json</c> file (a mistyped folder must not pass).</exception>
    public static IEnumerable<string> Discover()
    {
        string own = System.IO.Path.Combine(RepositoryRoot(), "tests", "conformance", "cases");
        if (!Directory.Exists(own))
        {
            throw new DirectoryNotFoundException($"The conformance case folder {own} does not exist.");
        }

        IEnumerable<string> files = Directory.EnumerateFiles(own, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        string? extra = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(extra))
        {
            string target = ResolveOutsidePath(extra);
            string[] outside = File.Exists(target)
                ? [target]
                : Directory.Exists(target)
                    ? Directory.EnumerateFiles(target, "*.json", new EnumerationOptions { RecurseSubdirectories = true, MatchCasing = MatchCasing.CaseInsensitive })
                        .Order(StringComparer.Ordinal).ToArray()
                    : throw new DirectoryNotFoundException($"{EnvironmentVariable}={extra} is neither a folder nor a file (looked for {target}).");
            files = outside.Length > 0
                ? files.Concat(outside)
                : throw new FileNotFoundException($"{EnvironmentVariable}={extra}: the folder {target} holds no .json file, so no outside case would run.");
        }

        return files;
    }

    /// <summary>
    /// The full path of what <see cref="EnvironmentVariable"/> names. A relative path is taken relative to the shell's
    /// folder (<c>$PWD</c>, which <c>dotnet test</c> passes on) when it exists there, since the test host itself runs
    /// in the test binaries' folder; otherwise relative to the current folder.
    /// </summary>
    public static string ResolveOutsidePath(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (System.IO.Path.IsPathRooted(value))
        {
            return System.IO.Path.GetFullPath(value);
        }

        string? shell = Environment.GetEnvironmentVariable("PWD");
        if (!string.IsNullOrEmpty(shell) && System.IO.Path.IsPathRooted(shell))
        {
            string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(shell, value));
            if (File.Exists(candidate) || Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return System.IO.Path.GetFullPath(value);
    }

    /// <summary>The environment variable naming an extra folder of cases (or one case file).</summary>
    public const string EnvironmentVariable = "OPTGEN_CONFORMANCE_DIR";

    /// <summary>The folder holding OptGen.sln, found by walking up from the test assembly.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "OptGen.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No OptGen.sln above {AppContext.BaseDirectory}.");
    }

    private static JsonElement Required(JsonElement root, string field, string path) =>
        root.TryGetProperty(field, out JsonElement value) ? value : throw Invalid(path, $"the field '{field}' is missing");

    /// <summary>The <c>tensors</c> field: a list of shapes, each a list of positive sizes ([] for a scalar), whose element counts add up to n.</summary>
    private static int[][] Shapes(JsonElement field, int n, string path, string name)
    {
        if (field.ValueKind != JsonValueKind.Array || field.GetArrayLength() == 0)
        {
            throw Invalid(path, $"case '{name}': tensors must be a non-empty list of shapes");
        }

        var shapes = new List<int[]>();
        long total = 0;
        foreach (JsonElement shape in field.EnumerateArray())
        {
            if (shape.ValueKind != JsonValueKind.Array
                || shape.EnumerateArray().Any(d => d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int size) || size < 1))
            {
                throw Invalid(path, $"case '{name}': tensors[{shapes.Count}] = {Show(shape)} is not a list of positive integer sizes");
            }

            // [] is a zero-dimensional tensor (a scalar, as torch.Size([])): one element, the shape [1] of ParameterLayout.
            int[] sizes = shape.GetArrayLength() == 0 ? [1] : shape.EnumerateArray().Select(d => d.GetInt32()).ToArray();
            long count = 1;
            foreach (int size in sizes)
            {
                count = Math.Min(count * size, (long)int.MaxValue + 1); // past any n, and no overflow
            }

            total += count;
            shapes.Add(sizes);
        }

        if (total != n)
        {
            throw Invalid(path, $"case '{name}': the tensors' shapes hold {total} elements in all, not n = {n}");
        }

        return [.. shapes];
    }

    /// <summary>The items of a JSON array.</summary>
    private static JsonElement[] Array(JsonElement field, string name, string path) =>
        field.ValueKind == JsonValueKind.Array ? field.EnumerateArray().ToArray() : throw Invalid(path, $"{name} is not a list");

    /// <summary>
    /// A list of float32 values (numbers, or NaN / Infinity / -Infinity as Python's json writes them). A finite number
    /// that float32 cannot hold (1e39) is an error: SCHEMA's values are float32, and reading it as ∞ would change the case.
    /// </summary>
    private static float[] Floats(JsonElement field, string name, string path) =>
        Array(field, name, path).Select(e =>
        {
            double value = Number(e, name, path);
            float single = (float)value;
            return float.IsInfinity(single) && double.IsFinite(value)
                ? throw Invalid(path, $"{name} holds {Show(e)}, which is beyond float32's range (SCHEMA's values are float32)")
                : single;
        }).ToArray();

    /// <summary>A list of lists of float32 values.</summary>
    private static float[][] Rows(JsonElement field, string name, string path) =>
        Array(field, name, path).Select(row => Floats(row, name, path)).ToArray();

    /// <summary>A number, or one of Python's non-finite literals (read as the strings <see cref="NonFiniteLiteralsAsStrings"/> makes of them).</summary>
    private static double Number(JsonElement value, string name, string path) =>
        TryNumber(value, out double number) ? number : throw Invalid(path, $"{name} holds {Show(value)}, which is not a number");

    /// <summary>
    /// Reads a JSON number (finite in double: 1e400 is not), or one of Python's bare non-finite literals
    /// (<c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>, as <see cref="NonFiniteLiteralsAsStrings"/> marks them). A string
    /// such as <c>"NaN"</c> or <c>"1e-8"</c> is not a number.
    /// </summary>
    public static bool TryNumber(JsonElement value, out double number)
    {
        if (value.ValueKind == JsonValueKind.Number)
        {
            return value.TryGetDouble(out number) && double.IsFinite(number);
        }

        string? text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        number = text switch
        {
            MarkedNaN => double.NaN,
            MarkedInfinity => double.PositiveInfinity,
            MarkedNegativeInfinity => double.NegativeInfinity,
            _ => 0,
        };
        return text is MarkedNaN or MarkedInfinity or MarkedNegativeInfinity;
    }

    /// <summary>A JSON value as the file writes it, for messages: Python's bare NaN and Infinity as written, not as marked.</summary>
    public static string Show(JsonElement value) => value.GetRawText()
        .Replace(Quoted(MarkedNegativeInfinity), "-" + InfinityLiteral, StringComparison.Ordinal)
        .Replace(Quoted(MarkedInfinity), InfinityLiteral, StringComparison.Ordinal)
        .Replace(Quoted(MarkedNaN), NaNLiteral, StringComparison.Ordinal);

    /// <summary>A whole number (a JSON integer, or a number such as 29.0 with no fraction).</summary>
    private static int Count(JsonElement value, string name, string path) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d >= 0 && d <= int.MaxValue && Math.Floor(d) == d
            ? (int)d
            : throw Invalid(path, $"{name} must be a whole number >= 0, but is {Show(value)}");

    private static string Text(JsonElement value, string name, string path) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid(path, $"{name} must be a string, but is {Show(value)}");

    private const string NaNLiteral = "NaN";
    private const string InfinityLiteral = "Infinity";

    // What NonFiniteLiteralsAsStrings makes of a bare literal: a string starting with U+0001, written as the JSON escape
    // \u0001, so that a file's own string "NaN" (a number written as a string) stays an error and is not read as NaN.
    private const string MarkedNaN = "\u0001" + NaNLiteral;
    private const string MarkedInfinity = "\u0001" + InfinityLiteral;
    private const string MarkedNegativeInfinity = "\u0001-" + InfinityLiteral;

    private static string Quoted(string marked) => "\"\\u0001" + marked[1..] + "\"";

    /// <summary>
    /// Python's <c>json.dump</c> writes NaN and ±∞ as the bare words <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>,
    /// which are not JSON; a reference that went non-finite would be written that way. This turns each such word outside
    /// a string into a marked string (<c>"\u0001NaN"</c>, …) that <see cref="TryNumber"/> reads back as the number,
    /// and leaves all other text as it is (a string <c>"NaN"</c> in the file stays a string, which is not a number).
    /// </summary>
    public static string NonFiniteLiteralsAsStrings(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (!json.Contains(NaNLiteral, StringComparison.Ordinal) && !json.Contains(InfinityLiteral, StringComparison.Ordinal))
        {
            return json;
        }

        var result = new System.Text.StringBuilder(json.Length + 16);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                result.Append(c);
                if (c == '\\' && i + 1 < json.Length)
                {
                    result.Append(json[++i]);
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (c == '"')
            {
                inString = true;
                result.Append(c);
                continue;
            }

            string? word = json.AsSpan(i).StartsWith(NaNLiteral) ? NaNLiteral
                : json.AsSpan(i).StartsWith(InfinityLiteral) ? InfinityLiteral
                : json.AsSpan(i).StartsWith("-" + InfinityLiteral) ? "-" + InfinityLiteral
                : null;
            if (word is null)
            {
                result.Append(c);
                continue;
            }

            result.Append("\"\\u0001").Append(word).Append('"');
            i += word.Length - 1;
        }

        return result.ToString();
    }

    /// <summary>Parses the file (Python's bare non-finite literals allowed); text that is not JSON is an error naming the place.</summary>
    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(NonFiniteLiteralsAsStrings(File.ReadAllText(path)));
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"Conformance case {path}: the file is not valid JSON ({error.Message}).", error);
        }
    }

    /// <summary>
    /// A field named twice in one object (JSON leaves it undefined which one counts: System.Text.Json would take the
    /// last, Python's json too, other readers the first) is an error, in the file's top level and in every object below it.
    /// </summary>
    private static void RejectDuplicateFields(JsonElement value, string where, string path)
    {
        if (value.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in value.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw Invalid(path, $"{where} names the field '{property.Name}' twice");
                }

                RejectDuplicateFields(property.Value, $"'{property.Name}'", path);
            }
        }
        else if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in value.EnumerateArray())
            {
                if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                {
                    RejectDuplicateFields(item, where, path);
                }
            }
        }
    }

    private static InvalidDataException Invalid(string path, string why) => new($"Conformance case {path}: {why}.");
}
