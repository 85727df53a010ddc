using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// What the runner makes of case files written by others: the forms a SCHEMA-conforming file may take (integers for
/// floats, left-out defaults, Python's NaN literals, extra fields, torch.optim 2.x's extra keys) are read as PyTorch
/// means them, and what it cannot run is an error that names the key — never a silent skip or a crash.
/// </summary>
public sealed class ConformanceInputTests
{
    /// <summary>Loads a case from JSON text (through a temporary file, as the runner reads cases).</summary>
    public static ConformanceCase LoadText(string json)
    {
        string path = Path.Combine(Path.GetTempPath(), $"optgen-case-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            return ConformanceCase.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Dictionary<string, JsonElement> Keys(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }

    private static CatalogConfiguration Describe(string optimizer, string json) => CatalogFactory.Describe(optimizer, Keys(json));

    private static double Setting(CatalogConfiguration configuration, string property) =>
        configuration.Settings.Single(s => s.Property == property).Value;

    [Fact]
    public void MissingKeysTakePyTorchDefaults()
    {
        CatalogConfiguration sgd = Describe("SGD", "{}");
        Assert.Equal(typeof(Sgd), sgd.Type);
        Assert.Equal(1e-3, Setting(sgd, "LearningRate")); // torch.optim.SGD's default since PyTorch 2.2

        CatalogConfiguration adamW = Describe("AdamW", "{}");
        Assert.Equal(typeof(AdamW), adamW.Type);
        Assert.Equal(1e-2, Setting(adamW, "WeightDecay"));
        Assert.Equal(0.999, Setting(adamW, "Beta2"));
        Assert.Equal(1e-10, Setting(Describe("Adagrad", "{}"), "Epsilon"));
        Assert.Equal(1e-6, Setting(Describe("Adadelta", "{}"), "Epsilon"));
        Assert.Equal(2e-3, Setting(Describe("NAdam", "{}"), "LearningRate"));
        Assert.Equal(OptGen.Adafactor.Float32Epsilon, Setting(Describe("adafactor", "{}"), "Epsilon1"));
    }

    [Fact]
    public void IntegersAreNumbers()
    {
        CatalogConfiguration c = Describe("Adam", """{"lr": 1, "betas": [0, 0.999], "eps": 1e-8, "weight_decay": 0}""");
        Assert.Equal(1.0, Setting(c, "LearningRate"));
        Assert.Equal(0.0, Setting(c, "Beta1"));
        Optimizer optimizer = c.Create(3);
        Assert.Equal(0.0, optimizer["Beta1"]);
    }

    [Theory]
    [InlineData("Adam", """{"decoupled_weight_decay": true}""", typeof(AdamW))]
    [InlineData("Adam", """{"decoupled_weight_decay": true, "amsgrad": true}""", typeof(AdamWAmsGrad))]
    [InlineData("AdamW", """{"decoupled_weight_decay": false}""", typeof(Adam))]
    [InlineData("NAdam", """{"decoupled_weight_decay": true, "weight_decay": 0}""", typeof(NAdamW))]
    [InlineData("NAdam", """{"decoupled_weight_decay": true, "weight_decay": 0.1, "momentum_decay": 0.01}""", typeof(NAdamW))]
    [InlineData("NAdam", """{"decoupled_weight_decay": false, "weight_decay": 0.1}""", typeof(NAdam))]
    [InlineData("RAdam", """{"decoupled_weight_decay": true, "weight_decay": 0.1, "maximize": true}""", typeof(RAdamW))]
    [InlineData("RAdam", """{"decoupled_weight_decay": false, "weight_decay": 0.1, "maximize": true}""", typeof(RAdam))]
    [InlineData("Adam", """{"foreach": null, "fused": false, "capturable": false, "differentiable": false}""", typeof(Adam))]
    [InlineData("SGD", """{"lr": 0.1, "momentum": 0.9, "foreach": false, "fused": null, "differentiable": false}""", typeof(SgdMomentum))]
    [InlineData("adafactor", """{"foreach": null}""", typeof(OptGen.Adafactor))]
    [InlineData("RMSprop", """{"momentum": 0.5, "centered": true, "capturable": true}""", typeof(RmsPropCenteredMomentum))]
    public void PyTorch2KeysSelectTheSameRule(string optimizer, string json, Type type) =>
        Assert.Equal(type, Describe(optimizer, json).Type);

    [Theory]
    [InlineData("Adam", """{"eps": 0}""", "'eps'")]
    [InlineData("adam_mini", """{"block": 2.5}""", "'block'")]
    [InlineData("RMSprop", """{"alpha": 1.5}""", "'alpha'")]
    [InlineData("lars", """{"lr": 0.1, "momentum": -0.5}""", "'momentum'")]
    [InlineData("Adam", """{"betas": [0.9, 1.0]}""", "'betas'")]
    public void ValuesOptGenRefusesNameTheKey(string optimizer, string json, string key)
    {
        CatalogConfiguration configuration = Describe(optimizer, json);
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => configuration.Create(4));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Equal(key.Trim('\''), error.ParamName);
    }

    [Fact]
    public void AValueRefusedWhenTheRuleStepsNamesTheKey()
    {
        // torch.optim.Adafactor refuses d < 1 in its constructor; OptGen's Adafactor when the runner sets it.
        ConformanceCase c = LoadText("{\"name\":\"small_d\",\"optimizer\":\"adafactor\",\"hyperparameters\":{\"d\":0.5},\"n\":2,\"T\":1,"
            + "\"p0\":[1,2],\"grads\":[[1,1]],\"params_after_each_step\":[[1,2]]}");
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => ConformanceRunner.Run(c));
        Assert.Equal("d", error.ParamName);
        Assert.Contains("the hyperparameter 'd' sets ClipThreshold = 0.5, which OptGen refuses", error.Message, StringComparison.Ordinal);
    }

    private const string Vector = "\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":0.5},\"n\":2,\"T\":1,\"p0\":[1,2],\"grads\":[[1,1]]";

    [Fact]
    public void PythonNonFiniteLiteralsAreRead()
    {
        ConformanceCase c = LoadText("{\"name\":\"nan\"," + Vector + ",\"params_after_each_step\":[[NaN,-Infinity]],\"description\":\"NaN Infinity\"}");
        Assert.True(float.IsNaN(c.Expected[0][0]));
        Assert.Equal(float.NegativeInfinity, c.Expected[0][1]);
        Assert.Empty(c.UnusedFields);

        // The runner's p is finite where the reference is not: the case fails, it does not pass or crash.
        ConformanceResult result = ConformanceRunner.Run(c);
        Assert.False(result.Passed);
        Assert.Contains("FAIL", result.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void FieldsOutsideSchemaAreListedAndWholeFloatsAreCounts()
    {
        ConformanceCase c = LoadText("{\"name\":\"extra\",\"seed\":7,\"torch_version\":\"2.5.1\",\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":0.5},"
            + "\"n\":2.0,\"T\":1,\"p0\":[1,2],\"grads\":[[1,1]],\"params_after_each_step\":[[0.5,1.5]],\"rtol\":0}");
        Assert.Equal(["seed", "torch_version"], c.UnusedFields);
        Assert.Equal(2, c.Length);
        Assert.True(ConformanceRunner.Run(c).Passed);
    }

    [Theory]
    [InlineData("\"p0\":[1,\"2\"]", "p0 holds \"2\"")]
    [InlineData("\"rtol\":-1", "rtol must be")]
    [InlineData("\"n\":2.5", "n must be a whole number")]
    [InlineData("\"dtype\":\"float64\"", "dtype 'float64'")]
    [InlineData("\"lr_per_step\":[NaN]", "lr_per_step holds a value that is not finite")]
    [InlineData("\"hyperparameters\":[1]", "hyperparameters is not a JSON object")]
    public void MalformedFilesAreErrorsNamingTheField(string field, string message)
    {
        var fields = new Dictionary<string, string>
        {
            ["name"] = "\"bad\"", ["optimizer"] = "\"SGD\"", ["hyperparameters"] = "{\"lr\":0.5}", ["n"] = "2", ["T"] = "1",
            ["p0"] = "[1,2]", ["grads"] = "[[1,1]]", ["params_after_each_step"] = "[[0.5,1.5]]",
        };
        string key = field[1..field.IndexOf('"', 1)];
        fields[key] = field[(field.IndexOf(':') + 1)..];
        string json = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => LoadText(json));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOutsidePathIsResolvedToAFullPath()
    {
        string folder = Path.GetTempPath();
        Assert.Equal(Path.GetFullPath(folder), ConformanceCase.ResolveOutsidePath(folder));
        Assert.True(Path.IsPathRooted(ConformanceCase.ResolveOutsidePath("some/relative/folder")));
    }
}
