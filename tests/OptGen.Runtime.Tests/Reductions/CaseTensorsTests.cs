using System;
using System.IO;
using OptGen.Runtime.Tests.Conformance;
using Xunit;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>The optional <c>tensors</c> and <c>params_eval_after_each_step</c> fields of a case file.</summary>
public sealed class CaseTensorsTests
{
    private const string Body = "\"optimizer\":\"lamb\",\"hyperparameters\":{\"lr\":0.001},\"dtype\":\"float32\",\"n\":5,\"T\":1,"
        + "\"p0\":[1,2,3,4,5],\"grads\":[[1,1,1,1,1]],\"params_after_each_step\":[[1,2,3,4,5]]";

    [Fact]
    public void ShapesAreReadAndAVectorIsTheDefault()
    {
        ConformanceCase c = Load("shapes", "\"tensors\":[[2,2],[1]]");
        Assert.Equal([[2, 2], [1]], c.Tensors!);
        Assert.Equal([[2, 2], [1]], c.TensorShapes);
        Assert.Null(c.ExpectedEval);

        ConformanceCase vector = Load("vector", null);
        Assert.Null(vector.Tensors);
        Assert.Equal([[5]], vector.TensorShapes);
    }

    [Fact]
    public void AnEmptyShapeIsAScalar()
    {
        ConformanceCase c = Load("scalar", "\"tensors\":[[2,2],[]]");
        Assert.Equal([[2, 2], [1]], c.TensorShapes);
    }

    [Fact]
    public void EvalParametersAreRead()
    {
        ConformanceCase c = Load("eval", "\"params_eval_after_each_step\":[[5,4,3,2,1]]");
        Assert.Equal([5f, 4f, 3f, 2f, 1f], c.ExpectedEval![0]);
    }

    [Theory]
    [InlineData("\"tensors\":[[2,2],[2]]", "hold 6 elements in all, not n = 5")]
    [InlineData("\"tensors\":[[4]]", "hold 4 elements in all, not n = 5")]
    [InlineData("\"tensors\":[]", "non-empty list of shapes")]
    [InlineData("\"tensors\":[[5,0]]", "tensors[0] = [5,0]")]
    [InlineData("\"tensors\":[[1],[0]]", "tensors[1] = [0]")]
    [InlineData("\"tensors\":[[2.5,2]]", "positive integer sizes")]
    [InlineData("\"tensors\":[[65536,65536,65536],[5]]", "not n = 5")]
    [InlineData("\"tensors\":[5]", "tensors[0] = 5")]
    [InlineData("\"params_eval_after_each_step\":[[1,2,3]]", "params_eval_after_each_step")]
    public void ABadFieldIsAnErrorNamingTheCase(string field, string message)
    {
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => Load("bad_case", field));
        Assert.Contains("case 'bad_case'", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static ConformanceCase Load(string name, string? field) =>
        ConformanceInputTests.LoadText("{\"name\":\"" + name + "\"," + Body + (field is null ? string.Empty : "," + field) + "}");
}
