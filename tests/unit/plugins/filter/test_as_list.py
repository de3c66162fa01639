"""kubenode.netfilter.as_list: a table of inputs, the errors, and the filter through ansible itself (-e strings)."""
from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

import kntest
from ansible_collections.kubenode.netfilter.plugins.filter.as_list import FilterModule

AS_LIST = FilterModule().filters()['as_list']


@pytest.mark.parametrize('value, expected', [
    pytest.param([], [], id='empty-list'),
    pytest.param(['br_netfilter', 'xt_statistic'], ['br_netfilter', 'xt_statistic'], id='list'),
    pytest.param(('a', 'b'), ['a', 'b'], id='tuple'),
    pytest.param([{'family': 'ip', 'handle': 5}], [{'family': 'ip', 'handle': 5}], id='list-of-dicts'),
    pytest.param(None, [], id='null'),
    pytest.param('', [], id='empty-string'),
    pytest.param('   ', [], id='blank-string'),
    pytest.param('br_netfilter', ['br_netfilter'], id='one-word'),
    pytest.param('br_netfilter,xt_statistic', ['br_netfilter', 'xt_statistic'], id='comma'),
    pytest.param(' br_netfilter , xt_statistic ,', ['br_netfilter', 'xt_statistic'], id='comma-spaces-trailing'),
    pytest.param('a,,b', ['a', 'b'], id='empty-item-dropped'),
    pytest.param('/opt/bin\n/usr/local/sbin\r\n', ['/opt/bin', '/usr/local/sbin'], id='textarea-lines'),
    pytest.param('["br_netfilter", "xt_statistic"]', ['br_netfilter', 'xt_statistic'], id='json'),
    pytest.param(' [] ', [], id='json-empty'),
    pytest.param('["a,b"]', ['a,b'], id='json-item-with-comma'),
    pytest.param('[{"family": "ip", "table": "filter"}]', [{'family': 'ip', 'table': 'filter'}], id='json-dicts'),
    pytest.param("['br_netfilter', 'xt_statistic']", ['br_netfilter', 'xt_statistic'], id='python-repr-yaml-flow'),
    pytest.param('[a, b]', ['a', 'b'], id='yaml-flow-bare'),
    pytest.param(3, [3], id='number'),
])
def test_as_list(value, expected):
    result = AS_LIST(value)
    assert result == expected
    assert result.__class__ is list  # a plain list, not a lazy/tagged subclass


def test_as_list_returns_a_copy():
    value = ['a']
    result = AS_LIST(value)
    result.append('b')
    assert value == ['a']


@pytest.mark.parametrize('value, match', [
    pytest.param({'a': 1}, 'got a dict', id='dict'),
    pytest.param(True, 'got a bool', id='bool'),
    pytest.param('[a, b', 'neither a JSON list', id='unclosed'),
    pytest.param('[1]x[', 'neither a JSON list', id='garbage'),
    pytest.param(object(), 'got a object', id='object'),
])
def test_as_list_errors(value, match):
    with pytest.raises(AnsibleFilterError, match=match):
        AS_LIST(value, 'kubenode_x')
    with pytest.raises(AnsibleFilterError, match='kubenode_x'):
        AS_LIST(value, 'kubenode_x')


def test_as_list_error_without_a_name():
    with pytest.raises(AnsibleFilterError, match='the value'):
        AS_LIST({'a': 1})


@pytest.mark.parametrize('extra_var, expected', [
    pytest.param('v=br_netfilter,xt_statistic', ['br_netfilter', 'xt_statistic'], id='comma'),
    pytest.param('v=["br_netfilter","xt_statistic"]', ['br_netfilter', 'xt_statistic'], id='json-kv'),
    pytest.param('{"v": "[\\"a\\", \\"b\\"]"}', ['a', 'b'], id='json-string-in-json-extra-vars'),
    pytest.param('{"v": ["a", "b"]}', ['a', 'b'], id='real-list'),
    pytest.param('v=', [], id='empty'),
])
def test_as_list_through_ansible(ansible_env, extra_var, expected):
    """The strings -e makes (key=value gives a string, JSON gives the type) end up as the same lists."""
    proc, output = kntest.run_ansible_json(
        [kntest.ansible_bin('ansible'), 'localhost', '-c', 'local', '-i', 'localhost,',
         '-e', 'ansible_python_interpreter=/usr/bin/python3', '-e', extra_var,
         '-m', 'ansible.builtin.debug', '-a', 'msg={{ v | kubenode.netfilter.as_list }}'], ansible_env)
    assert proc.returncode == 0, proc.stdout
    assert output['plays'][0]['tasks'][0]['hosts']['localhost']['msg'] == expected, json.dumps(output)[:2000]
