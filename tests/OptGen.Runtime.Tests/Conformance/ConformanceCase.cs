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
        float[][]? expectedEval)
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
    }

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
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement root = document.RootElement;
        string name = Required(root, "name", path).GetString() ?? throw Invalid(path, "name is null");
        string optimizer = Required(root, "optimizer", path).GetString() ?? throw Invalid(path, "optimizer is null");
        string dtype = root.TryGetProperty("dtype", out JsonElement d) ? d.GetString() ?? string.Empty : "float32";
        if (dtype != "float32")
        {
            throw Invalid(path, $"dtype '{dtype}' is not float32");
        }

        var hyperparameters = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (JsonProperty property in Required(root, "hyperparameters", path).EnumerateObject())
        {
            hyperparameters.Add(property.Name, property.Value.Clone());
        }

        float[] p0 = Floats(Required(root, "p0", path));
        float[][] grads = Required(root, "grads", path).EnumerateArray().Select(Floats).ToArray();
        float[][] expected = Required(root, "params_after_each_step", path).EnumerateArray().Select(Floats).ToArray();
        int n = Required(root, "n", path).GetInt32();
        int steps = Required(root, "T", path).GetInt32();
        double[]? lrs = root.TryGetProperty("lr_per_step", out JsonElement l) && l.ValueKind != JsonValueKind.Null
            ? l.EnumerateArray().Select(e => e.GetDouble()).ToArray()
            : null;
        double rtol = root.TryGetProperty("rtol", out JsonElement r) && r.ValueKind != JsonValueKind.Null ? r.GetDouble() : DefaultRelativeTolerance;

        if (p0.Length != n || grads.Length != steps || expected.Length != steps
            || grads.Any(g => g.Length != n) || expected.Any(e => e.Length != n) || (lrs is not null && lrs.Length != steps))
        {
            throw Invalid(path, $"the arrays do not have the shapes n = {n}, T = {steps}");
        }

        int[][]? tensors = root.TryGetProperty("tensors", out JsonElement ts) && ts.ValueKind != JsonValueKind.Null
            ? Shapes(ts, n, path, name)
            : null;
        float[][]? expectedEval = root.TryGetProperty("params_eval_after_each_step", out JsonElement ev) && ev.ValueKind != JsonValueKind.Null
            ? ev.EnumerateArray().Select(Floats).ToArray()
            : null;
        if (expectedEval is not null && (expectedEval.Length != steps || expectedEval.Any(e => e.Length != n)))
        {
            throw Invalid(path, $"case '{name}': params_eval_after_each_step does not have the shape T = {steps} by n = {n}");
        }

        return new ConformanceCase(path, name, optimizer, hyperparameters, p0, grads, expected, lrs, rtol, tensors, expectedEval);
    }

    /// <summary>
    /// Every case file: all <c>*.json</c> directly in <c>tests/conformance/cases</c> of the repository, then all
    /// <c>*.json</c> below <c>$OPTGEN_CONFORMANCE_DIR</c> (recursively) when it is set. Sorted, so runs are stable.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The repository's case folder or the named folder does not exist.</exception>
    public static IEnumerable<string> Discover()
    {
        string own = System.IO.Path.Combine(RepositoryRoot(), "tests", "conformance", "cases");
        if (!Directory.Exists(own))
        {
            throw new DirectoryNotFoundException($"The conformance case folder {own} does not exist.");
        }

        IEnumerable<string> files = Directory.EnumerateFiles(own, "*.json").Order(StringComparer.Ordinal);
        string? extra = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(extra))
        {
            if (!Directory.Exists(extra))
            {
                throw new DirectoryNotFoundException($"{EnvironmentVariable}={extra} is not a folder.");
            }

            files = files.Concat(Directory.EnumerateFiles(System.IO.Path.GetFullPath(extra), "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        }

        return files;
    }

    /// <summary>The environment variable naming an extra folder of cases.</summary>
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

    /// <summary>The <c>tensors</c> field: a list of shapes, each a non-empty list of positive sizes, whose element counts add up to n.</summary>
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
            if (shape.ValueKind != JsonValueKind.Array || shape.GetArrayLength() == 0
                || shape.EnumerateArray().Any(d => d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int size) || size < 1))
            {
                throw Invalid(path, $"case '{name}': tensors[{shapes.Count}] = {shape.GetRawText()} is not a list of positive integer sizes");
            }

            int[] sizes = shape.EnumerateArray().Select(d => d.GetInt32()).ToArray();
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

    private static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    private static InvalidDataException Invalid(string path, string why) => new($"Conformance case {path}: {why}.");
}
